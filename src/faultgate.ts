import { createHash } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import type { Agent } from 'undici';
import { type AdminState, createAdminServer } from './admin/server.js';
import { isLoopback, listenOn } from './net.js';
import type { ControlPlane, ReloadAnswer } from './chaos/control.js';
import { EngineControl } from './chaos/control-plane.js';
import { type ChaosChange, ChaosEngine } from './chaos/engine.js';
import { type ConfigProblem, formatProblem, loadConfigFile } from './config/load.js';
import { type ConfigWatcher, restartNeeded, upstreamChanged, watchConfig } from './config/reload.js';
import type { Config, FleetConfig } from './config/schema.js';
import { FaultgateError } from './errors.js';
import type { Fleet, OutcomeStream } from './fleet/index.js';
import { IdentityResolver } from './identity/index.js';
import { createLogger, type Logger } from './observe/logger.js';
import { Metrics } from './observe/metrics.js';
import type { Report } from './observe/report-model.js';
import { RecoveryTracker } from './observe/tracker.js';
import type { ProxyEnv, ProxyState } from './proxy/context.js';
import {
  type BoundAddress,
  boundAddress,
  ListenError,
  type ListenerChange,
  ListenerSet,
} from './proxy/listener-set.js';
import { createWsProxy } from './proxy/upgrade.js';
import { OverloadGuard } from './proxy/limits.js';
import { createUpstreamAgent, toolTargets } from './proxy/upstream.js';

export interface StartOptions {
  logger?: Logger;
  /** The file the config came from: `reload()` re-reads it. */
  configPath?: string;
  /** Reload when the file at `configPath` changes. */
  watch?: boolean;
}

export type ReloadResult =
  | { ok: true; configHash: string; changes: NonNullable<ReloadAnswer['changes']> }
  | { ok: false; problems: ConfigProblem[] };
/** What asked for a reload, for the log line. */
export type ReloadTrigger = 'api' | 'signal' | 'watch' | 'library';

/** The default bound on draining: shutdown, and listeners a reload removed. */
export const DEFAULT_DRAIN_MS = 10_000;

function hashConfig(config: Config): string {
  return createHash('sha256').update(JSON.stringify(config)).digest('hex').slice(0, 16);
}

export type { BoundAddress } from './proxy/listener-set.js';

/** One running faultgate: its listeners, admin server, upstream pools, metrics and logger. */
export class Faultgate {
  /** The data-plane listeners, in config order; a reload updates this array in place. */
  readonly listeners: BoundAddress[];
  admin!: BoundAddress;
  readonly metrics: Metrics;
  readonly logger: Logger;
  /** The recovery tracker (incidents, MTTR, availability), unless `tracking.enabled` is false. */
  readonly tracker: RecoveryTracker | undefined;
  private configHash: string;
  /** Sessions, level and reload, as the admin API drives them (through Redis in fleet mode). */
  control: ControlPlane;
  /** Fleet mode (SPEC section 10): the link to the shared control plane in Redis. */
  private fleet: Fleet | undefined;
  /** Fleet mode: finished exchanges, also sent to the fleet's Redis Stream. */
  private outcomeStream: OutcomeStream | undefined;
  private fleetWithin: ((p: Promise<unknown>, ms: number) => Promise<void>) | undefined;
  private readonly listenerSet: ListenerSet;
  private readonly adminServer: Server;
  private readonly adminState: AdminState;
  private readonly env: ProxyEnv;
  private state: ProxyState;
  private ready = false;
  private closing: Promise<void> | undefined;
  /** Aborted when shutdown begins: every fault in flight is released. */
  private readonly stopping = new AbortController();
  private readonly configPath: string | undefined;
  private watcher: ConfigWatcher | undefined;
  /** Reloads run one after another (file watch, SIGHUP and the API may ask at once). */
  private reloads: Promise<unknown> = Promise.resolve();
  /** Upstream agents a reload replaced, closing once their requests finish. */
  private readonly retiredAgents = new Set<Agent>();

  private constructor(config: Config, options: StartOptions) {
    if (!isLoopback(config.admin.listen) && config.admin.token === '') {
      throw new FaultgateError(
        'FAULTGATE_ERR_CONFIG',
        `admin.listen ${config.admin.listen} is not a loopback address and admin.token is empty: set a token or listen on 127.0.0.1`,
      );
    }
    this.logger = options.logger ?? createLogger(config.log.level);
    this.metrics = new Metrics(config.limits.max_label_values, config.metrics.detail);
    this.configHash = hashConfig(config);
    this.configPath = options.configPath;
    this.tracker = config.tracking.enabled
      ? new RecoveryTracker({
          slos: config.slos,
          tools: config.tools,
          maxLabelValues: config.limits.max_label_values,
          registry: this.metrics.registry,
          metricsDetail: config.metrics.detail,
          labelCaps: { agents: this.metrics.agents, tools: this.metrics.tools },
        })
      : undefined;
    this.state = {
      config,
      identity: new IdentityResolver(config),
      toolTargets: toolTargets(config),
      engine: new ChaosEngine(config, undefined, {
        logger: this.logger,
        active: (name, on) => this.metrics.sessionActive.labels(name).set(on ? 1 : 0),
        safetyAbort: (name, reason) => this.metrics.safetyAborts.labels(name, reason).inc(),
        ended: (session, state, cause) => {
          this.metrics.sessionAborts.labels(session.name, cause).inc();
          this.fleet?.sessionEnded(session, state, session.abortReason);
        },
      }),
    };
    // Real upstream failures feed every running session's cascade detection.
    this.metrics.upstreamErrorListener = () => {
      this.state.engine.upstreamFailure();
      this.fleet?.upstreamFailure();
    };
    // One abort listener per fault in flight: hundreds are normal, not a leak (each is removed when its fault ends).
    setMaxListeners(0, this.stopping.signal);
    let requestId = 0;
    this.env = {
      state: () => this.state,
      agent: createUpstreamAgent(config.upstream),
      metrics: this.metrics,
      logger: this.logger,
      ws: createWsProxy(this.logger),
      nextRequestId: () => ++requestId,
      tunnels: new Set<Socket>(),
      outcomes: this.tracker,
      shutdown: this.stopping.signal,
      overload: new OverloadGuard(this.metrics.registry, () => this.state.config.limits),
    };
    this.listenerSet = new ListenerSet(this.env, this.logger, DEFAULT_DRAIN_MS);
    this.listeners = this.listenerSet.addresses;
    this.control = new EngineControl({
      engine: () => this.state.engine,
      config: () => this.state.config,
      reload: () => this.reloadFromApi(),
    });
    this.adminState = {
      metrics: this.metrics,
      ready: () => this.ready && !this.closing,
      token: config.admin.token,
      control: this.control,
      ...(this.tracker ? { report: () => this.report()! } : {}),
    };
    this.adminServer = createAdminServer(this.adminState);
  }

  static async start(config: Config, options: StartOptions = {}): Promise<Faultgate> {
    const fg = new Faultgate(config, options);
    try {
      if (config.fleet) await fg.joinFleet(config.fleet);
      await fg.bind();
    } catch (err) {
      await fg.close();
      throw err;
    }
    if (options.watch && options.configPath) {
      fg.watcher = watchConfig(options.configPath, () => void fg.reload('watch'), { logger: fg.logger });
    }
    return fg;
  }

  /** Lazy: a standalone instance never loads the fleet code nor the Redis client. */
  private async joinFleet(cfg: FleetConfig): Promise<void> {
    const { Fleet, FleetControl, OutcomeStream, fleetReport, within } = await import('./fleet/index.js');
    this.fleetWithin = within;
    const fleet = new Fleet(cfg, {
      engine: () => this.state.engine,
      config: () => this.state.config,
      logger: this.logger,
      registry: this.metrics.registry,
    });
    this.fleet = fleet;
    await fleet.start();
    this.control = new FleetControl(this.control as EngineControl, fleet);
    this.adminState.control = this.control;
    const redis = () => fleet.redis;
    this.outcomeStream = new OutcomeStream(cfg, this.tracker, redis, this.logger, this.metrics.registry);
    this.env.outcomes = this.outcomeStream;
    this.adminState.fleetReport = async () => {
      const client = fleet.redis;
      if (!client?.isReady) throw new Error('the fleet report needs Redis, which is unreachable now');
      await this.outcomeStream?.flush();
      const meta = { seed: this.state.engine.seed, configHash: this.configHash };
      return fleetReport(client, cfg, this.state.config, meta, this.logger);
    };
  }

  private async bind(): Promise<void> {
    const { config } = this.state;
    await this.listenerSet.bindAll(config);
    const addr = await listenOn(this.adminServer, config.admin.listen);
    this.admin = boundAddress('admin', addr);
    this.logger.info({ address: `${addr.address}:${addr.port}` }, 'admin listening');
    this.ready = true;
  }

  /** `POST /api/v1/reload`: re-reads the config file when the instance was started from one. */
  private async reloadFromApi(): ReturnType<EngineControl['reload']> {
    const result = await this.reload('api');
    if (result.ok) return { ok: true, value: { config_hash: result.configHash, changes: result.changes } };
    return {
      ok: false,
      error: 'invalid',
      message: `config reload rejected (${result.problems.length} problem(s)): the running config stays`,
      problems: result.problems,
    };
  }

  /** The config in use now (validated and frozen); a reload replaces it. */
  get config(): Config {
    return this.state.config;
  }

  /** The recovery report (SPEC section 8); undefined when tracking is off. */
  report(): Report | undefined {
    return this.tracker?.report({ seed: this.state.engine.seed, configHash: this.configHash });
  }

  listener(name: string): BoundAddress {
    const l = this.listeners.find((x) => x.name === name);
    if (!l) throw new Error(`no listener named ${name}`);
    return l;
  }

  /**
   * Re-reads and validates the config file and swaps it in (SPEC section 2): new requests see
   * it, requests in flight finish with the config they started with. An invalid file changes
   * nothing: its problems are logged, counted and returned. Reloads run one at a time.
   * `config`, already validated (the library API), is applied instead of re-reading the file.
   */
  reload(trigger: ReloadTrigger = 'api', config?: Config): Promise<ReloadResult> {
    const result = this.reloads.then(() => this.reloadNow(trigger, config));
    this.reloads = result.catch(() => undefined);
    return result;
  }

  private async reloadNow(trigger: ReloadTrigger, given: Config | undefined): Promise<ReloadResult> {
    const file = this.configPath ?? '';
    if (this.closing)
      return this.rejected(trigger, [problem(file, '(reload)', 'faultgate is shutting down')]);
    let config = given;
    if (!config) {
      if (!this.configPath) {
        return this.rejected(trigger, [
          problem(file, '(file)', 'started without a config file: nothing to reload'),
        ]);
      }
      const loaded = loadConfigFile(this.configPath);
      if (!loaded.ok) return this.rejected(trigger, loaded.problems);
      config = loaded.config;
    }
    try {
      return await this.apply(config, trigger);
    } catch (err) {
      const path = err instanceof ListenError ? err.path : '(reload)';
      return this.rejected(trigger, [problem(file, path, (err as Error).message)]);
    }
  }

  private rejected(trigger: ReloadTrigger, problems: ConfigProblem[]): ReloadResult {
    this.metrics.configReloads.labels('rejected').inc();
    this.logger.warn(
      { trigger, problems: problems.map(formatProblem) },
      `config reload rejected (${problems.length} problem(s)): the running config stays`,
    );
    return { ok: false, problems };
  }

  /** Everything that can fail happens before the swap; the swap itself never awaits. */
  private async apply(config: Config, trigger: ReloadTrigger): Promise<ReloadResult> {
    const running = this.state.config;
    if (!isLoopback(running.admin.listen) && config.admin.token === '') {
      const message = `admin.listen ${running.admin.listen} is not a loopback address: admin.token cannot be emptied`;
      return this.rejected(trigger, [problem(this.configPath ?? '', 'admin.token', message)]);
    }
    const state: ProxyState = {
      config,
      identity: new IdentityResolver(config),
      toolTargets: toolTargets(config),
      engine: this.state.engine,
    };
    const agent = upstreamChanged(running, config) ? createUpstreamAgent(config.upstream) : undefined;
    let change: ListenerChange;
    try {
      change = await this.listenerSet.prepare(state);
    } catch (err) {
      await agent?.destroy();
      throw err;
    }
    if (this.closing) {
      await Promise.all([this.listenerSet.discard(change), agent?.destroy()]);
      throw new Error('faultgate is shutting down');
    }
    const chaos = this.swap(change, agent);
    const restart = restartNeeded(running, config);
    if (restart.length > 0) {
      this.logger.warn({ settings: restart }, 'config reload: these settings need a restart to apply');
    }
    this.metrics.configReloads.labels('ok').inc();
    const { plan, bound } = change;
    const changes = {
      experiments: chaos.experiments,
      listeners: { kept: plan.keep.length - bound.size, bound: bound.size, closed: plan.removed.length },
      overrides: chaos.overrides,
    };
    this.logger.info(
      { trigger, configHash: this.configHash, ...changes, upstreamAgent: agent ? 'rebuilt' : 'kept' },
      'config reloaded',
    );
    return { ok: true, configHash: this.configHash, changes };
  }

  /** The atomic part of a reload: synchronous, so no request sees half of it. */
  private swap(change: ListenerChange, agent: Agent | undefined): ChaosChange {
    const { state } = change;
    const { config } = state;
    const running = this.state.config;
    // The engine outlives reloads: unchanged experiments of `default` keep their live state, an
    // abort and an API level stay in force, API sessions keep running.
    const chaos = state.engine.reconfigure(config);
    this.state = state;
    this.fleet?.reloaded();
    this.configHash = hashConfig(config);
    this.listenerSet.commit(change);
    if (agent) {
      const old = this.env.agent;
      this.env.agent = agent;
      // Requests already dispatched on the old pools finish there; close() waits for them.
      this.retiredAgents.add(old);
      const forget = () => this.retiredAgents.delete(old);
      old.close().then(forget, forget);
    }
    this.tracker?.reconfigure({ slos: config.slos, tools: config.tools });
    this.adminState.token = config.admin.token;
    // Only a changed `log.level`: a logger handed to start() keeps its own level otherwise.
    if (config.log.level !== running.log.level) this.logger.level = config.log.level;
    return chaos;
  }

  /**
   * Graceful shutdown: /readyz turns 503 at once, listeners stop accepting, faults in flight
   * are released (hangs closed, delays cut short), requests in flight get up to `drainMs` to
   * finish, then every connection and tunnel left is cut.
   */
  close(drainMs = DEFAULT_DRAIN_MS): Promise<void> {
    this.closing ??= this.shutdown(drainMs);
    return this.closing;
  }

  private async shutdown(drainMs: number): Promise<void> {
    this.watcher?.close();
    this.stopping.abort();
    await this.listenerSet.close(drainMs);
    for (const t of this.env.tunnels) t.destroy();
    this.env.ws.close?.();
    // Last, so probes saw /readyz answer 503 for the whole drain.
    const admin = this.adminServer;
    const adminClosed = new Promise<void>((r) => (admin.listening ? admin.close(() => r()) : r()));
    admin.closeAllConnections();
    await adminClosed;
    await Promise.all([this.env.agent, ...this.retiredAgents].map((a) => a.destroy()));
    this.tracker?.close();
    await this.outcomeStream?.close((p) => this.fleetWithin!(p, 1000));
    await this.fleet?.close();
    this.logger.flush?.();
  }
}

function problem(file: string, path: string, message: string): ConfigProblem {
  return { file, line: 0, col: 0, path, message };
}
