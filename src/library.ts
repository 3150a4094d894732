/**
 * faultgate as a library: `await startFaultgate({ config })` inside a test suite, the way
 * mockttp's `getLocal().start()` or a Toxiproxy client is used. A thin handle over the
 * `Faultgate` class: the same config validation, control plane and report as the CLI and the
 * admin API, called in-process (no HTTP round trip for sessions or the report).
 */
import { Writable } from 'node:stream';
import type { ControlResult, SessionAction, SessionView } from './chaos/control.js';
import { type ConfigProblem, formatProblem, loadConfigFile, validateConfig } from './config/load.js';
import type { Config } from './config/schema.js';
import { type ErrorCode, FaultgateError } from './errors.js';
import { type BoundAddress, Faultgate } from './faultgate.js';
import { createLogger, type Logger } from './observe/logger.js';
import type { Report } from './observe/report-model.js';
import type { LibraryConfig, SessionBody } from './public-types.js';

/** How the library was asked to start faultgate: exactly one of `config` and `configFile`. */
export interface StartFaultgateOptions {
  /** The config as an object (SPEC section 2). Ports default to 127.0.0.1:0. */
  config?: LibraryConfig;
  /** A YAML config file, as `faultgate start -c FILE` reads it (its addresses are used as written). */
  configFile?: string;
  /** Where logs go. Default: nowhere (a test suite's output stays clean); see `logLevel`. */
  logger?: Logger;
  /** Log to stderr as JSON from this level (`info`, `debug`, ...). Ignored when `logger` is given. */
  logLevel?: Config['log']['level'];
  /** With `configFile`: reload when the file changes (default false). */
  watch?: boolean;
}

/** A config problem the library refuses: every problem, with the path and message `validate` prints. */
export class FaultgateValidationError extends FaultgateError {
  constructor(
    code: ErrorCode,
    what: string,
    readonly problems: readonly (ConfigProblem | { path: string; message: string })[],
  ) {
    // A file's problems carry their place (as `validate` prints them); an object's have none.
    const line = (p: (typeof problems)[number]) =>
      'line' in p && p.line > 0 ? `  ${formatProblem(p)}` : `  ${p.path}  ${p.message}`;
    const lines = problems.map(line).join('\n');
    super(code, `${what} (${problems.length} problem(s)):\n${lines}`);
    this.name = 'FaultgateValidationError';
  }
}

/** Chaos sessions (SPEC section 7), driven in-process; each call answers the session as the API does. */
export interface Sessions {
  list(): SessionView[];
  get(id: string): SessionView;
  /** Validates and creates a session in state `created`; throws `FaultgateValidationError` on a bad body. */
  create(body: SessionBody): SessionView;
  start(id: string): SessionView;
  stop(id: string): SessionView;
  abort(id: string): SessionView;
  /** Removes a session; a running one is aborted first. */
  delete(id: string): SessionView;
}

export interface FaultgateHandle {
  /** `http://127.0.0.1:PORT` of the first forward listener (else the first listener): `HTTP_PROXY`. */
  readonly proxyUrl: string;
  /** `http://HOST:PORT` of the named listener (default: the first): a reverse-mode base URL. */
  baseUrl(listener?: string): string;
  /** `http://127.0.0.1:PORT` of the admin API (`/metrics`, `/api/v1/...`). */
  readonly adminUrl: string;
  /** Every data-plane listener as bound (port 0 resolved). */
  readonly listeners: readonly BoundAddress[];
  /** The recovery report (SPEC section 8), as `GET /api/v1/report?format=json` answers it. */
  report(): Report;
  /** The Prometheus exposition text `GET /metrics` serves. */
  metrics(): Promise<string>;
  readonly sessions: Sessions;
  level(): number;
  /** 0 turns chaos off; 1 is the configured probabilities. */
  setLevel(level: number): void;
  /** Aborts every running session, the config's `default` included; returns the aborted ones. */
  abortAll(reason?: string): SessionView[];
  /** Re-arms chaos after an abort: re-creates and starts `default` from the current config. */
  resume(): SessionView;
  /**
   * Swaps in a new config (object), or re-reads `configFile` when none is given. Throws
   * `FaultgateValidationError` and keeps the running config when the new one is invalid.
   */
  reload(config?: LibraryConfig): Promise<{ configHash: string }>;
  /** Stops listening, releases faults in flight and closes every socket and timer. */
  close(): Promise<void>;
}

const LOOPBACK_ANY_PORT = '127.0.0.1:0';

/**
 * The library's defaults over a config object: `version: 1`, one listener `main` that accepts
 * `HTTP_PROXY` traffic to loopback hosts, every listener and the admin API on 127.0.0.1:0.
 * `bound` keeps a reloaded listener (or admin API) on the address it already has.
 */
export function withLibraryDefaults(input: LibraryConfig, bound?: Map<string, string>): unknown {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) return input;
  const listeners = input.listeners ?? [
    { name: 'main', forward: true, allow_hosts: ['127.0.0.1', 'localhost', '[::1]'] },
  ];
  const admin = input.admin ?? {};
  return {
    version: 1,
    ...input,
    listeners: Array.isArray(listeners)
      ? listeners.map((l) =>
          typeof l === 'object' && l !== null && l.listen === undefined
            ? { ...l, listen: bound?.get(`listener:${l.name}`) ?? LOOPBACK_ANY_PORT }
            : l,
        )
      : listeners,
    admin:
      typeof admin === 'object' && admin !== null && admin.listen === undefined
        ? { ...admin, listen: bound?.get('admin') ?? LOOPBACK_ANY_PORT }
        : admin,
  };
}

function objectConfig(input: LibraryConfig, bound?: Map<string, string>): Config {
  const result = validateConfig(withLibraryDefaults(input, bound));
  if (!result.ok)
    throw new FaultgateValidationError('FAULTGATE_ERR_CONFIG', 'invalid faultgate config', result.problems);
  return result.config;
}

function fileConfig(file: string): Config {
  const result = loadConfigFile(file);
  if (!result.ok)
    throw new FaultgateValidationError(
      'FAULTGATE_ERR_CONFIG',
      `invalid faultgate config ${file}`,
      result.problems,
    );
  return result.config;
}

/** A control-plane result as a value, or the typed error the admin API would have answered. */
function unwrap<T>(result: ControlResult<T>): T {
  if (result.ok) return result.value;
  if (result.error === 'not_found') throw new FaultgateError('FAULTGATE_ERR_NOT_FOUND', result.message);
  if (result.error === 'conflict') throw new FaultgateError('FAULTGATE_ERR_CONFLICT', result.message);
  throw new FaultgateValidationError('FAULTGATE_ERR_BAD_REQUEST', result.message, result.problems ?? []);
}

function silentLogger(): Logger {
  return createLogger('silent', new Writable({ write: (_chunk, _enc, cb) => cb() }));
}

/** Starts a faultgate instance in this process; resolves once every listener is bound. */
export async function startFaultgate(options: StartFaultgateOptions): Promise<FaultgateHandle> {
  if ((options.config === undefined) === (options.configFile === undefined)) {
    throw new FaultgateError(
      'FAULTGATE_ERR_CONFIG',
      'startFaultgate needs exactly one of `config` and `configFile`',
    );
  }
  const config = options.configFile ? fileConfig(options.configFile) : objectConfig(options.config!);
  const logger =
    options.logger ?? (options.logLevel ? createLogger(options.logLevel, process.stderr) : silentLogger());
  const fg = await Faultgate.start(config, {
    logger,
    ...(options.configFile ? { configPath: options.configFile, watch: options.watch ?? false } : {}),
  });
  return handle(fg, options.configFile);
}

function handle(fg: Faultgate, configFile: string | undefined): FaultgateHandle {
  const control = fg.control;
  const act = (action: SessionAction) => (id: string) => unwrap(control.transition(id, action));
  const sessions: Sessions = {
    list: () => control.listSessions(),
    get: (id) => {
      const s = control.getSession(id);
      if (!s) throw new FaultgateError('FAULTGATE_ERR_NOT_FOUND', `no session "${id}"`);
      return s;
    },
    create: (body) => unwrap(control.createSession(body)),
    start: act('start'),
    stop: act('stop'),
    abort: act('abort'),
    delete: (id) => unwrap(control.deleteSession(id)),
  };
  const listener = (name?: string): BoundAddress => {
    const l = name === undefined ? fg.listeners[0] : fg.listeners.find((x) => x.name === name);
    if (!l) throw new FaultgateError('FAULTGATE_ERR_NOT_FOUND', `no listener named "${name}"`);
    return l;
  };
  return {
    get proxyUrl() {
      const forward = forwardListeners(fg);
      return (fg.listeners.find((l) => forward.has(l.name)) ?? listener()).url;
    },
    baseUrl: (name) => listener(name).url,
    get adminUrl() {
      return fg.admin.url;
    },
    get listeners() {
      return [...fg.listeners];
    },
    report: () => {
      const report = fg.report();
      if (!report)
        throw new FaultgateError('FAULTGATE_ERR_NOT_FOUND', 'no report: tracking.enabled is false');
      return report;
    },
    metrics: () => fg.metrics.registry.metrics(),
    sessions,
    level: () => control.getLevel(),
    setLevel: (level) => void unwrap(control.setLevel(level)),
    abortAll: (reason = 'abort_all') => control.abortAll(reason),
    resume: () => control.resume(),
    reload: async (input) => {
      let config: Config | undefined;
      if (input !== undefined) {
        try {
          config = objectConfig(input, runningAddresses(fg));
        } catch (err) {
          // Rejected like an invalid file: counted and logged, the running config stays.
          fg.metrics.configReloads.labels('rejected').inc();
          fg.logger.warn({ trigger: 'library' }, (err as Error).message);
          throw err;
        }
      } else if (!configFile) {
        throw new FaultgateError(
          'FAULTGATE_ERR_CONFIG',
          'started from a config object: pass the new config to reload()',
        );
      }
      const result = await fg.reload('library', config);
      if (!result.ok)
        throw new FaultgateValidationError('FAULTGATE_ERR_CONFIG', 'config reload rejected', result.problems);
      return { configHash: result.configHash };
    },
    close: () => fg.close(),
  };
}

/** Names of the listeners that accept `HTTP_PROXY` traffic in the running config. */
function forwardListeners(fg: Faultgate): Set<string> {
  return new Set(fg.config.listeners.filter((l) => l.forward).map((l) => l.name));
}

/**
 * The running config's listen address of each named listener and of the admin API: a listener
 * whose address is unchanged keeps its socket (and so its port 0 choice) across a reload.
 */
function runningAddresses(fg: Faultgate): Map<string, string> {
  const out = new Map<string, string>();
  for (const l of fg.config.listeners) out.set(`listener:${l.name}`, l.listen);
  out.set('admin', fg.config.admin.listen);
  return out;
}
