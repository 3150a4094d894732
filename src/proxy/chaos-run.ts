import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { CompiledExperiment } from '../chaos/experiment.js';
import { hash32, SeededRng } from '../chaos/rng.js';
import type { Session } from '../chaos/session.js';
import type { Dialect } from '../faults/common.js';
import type { FaultContext, PreAction, Rng } from '../faults/types.js';
import type { Logger } from '../observe/logger.js';
import type { FaultStats } from '../observe/metrics.js';
import { tunnelOf } from './route.js';

/** What a chaos run needs from the instance. */
export interface ChaosEnv {
  logger: Logger;
  faults: FaultStats;
  markInjected: boolean;
  maxBodyBytes: number;
  /** The instance's shutdown: it ends every fault in flight as a session abort does. */
  shutdown?: AbortSignal | undefined;
}

/** Per-request facts shared by every fault context of the request. */
export interface RequestInfo {
  requestId: number;
  agent: string;
  tenant: string;
  tool: string;
  toolDialect: Dialect;
  req: IncomingMessage;
  res: ServerResponse;
}

/**
 * The chaos state of one request: the fired experiments, their contexts, the abort signal
 * that cuts every wait short, and the bookkeeping of what was injected.
 */
export class ChaosRun {
  readonly controller = new AbortController();
  readonly injected: string[] = [];
  /** The fault types behind `injected`, for the recovery tracker. */
  readonly injectedTypes: string[] = [];
  /** Experiments that passed a body through untouched: their declared failure did not happen. */
  readonly skippedExperiments = new Set<CompiledExperiment>();
  /** Retry-After (ms) of an injected answer. */
  retryAfterMs: number | undefined;
  jsonRpcId: string | number | null | undefined;
  private active = false;
  private readonly timers = new Set<NodeJS.Timeout>();
  /** Sessions this request counted against (once each), and whose abort ends its faults. */
  private readonly sessions = new Set<Session>();
  /** The client left: nothing more is sent. */
  clientGone = false;
  /** A session of this request was aborted: its faults end and the request goes on plainly. */
  sessionAborted = false;
  /** The request is held by a `hang` answer. */
  hanging = false;
  private readonly baseSeed: number;
  /** The client socket (Node detaches `req.socket` when the response is done). */
  private readonly socket: Socket;
  private readonly onClientClose = (): void => {
    this.clientGone = true;
    this.end();
  };
  private readonly onSessionAbort = (): void => {
    this.sessionAborted = true;
    // A released hang has nothing to send: the connection is closed (as a timeout would).
    if (this.hanging) cut(this.info.req.socket, 'close');
    this.end();
  };

  constructor(
    readonly env: ChaosEnv,
    readonly info: RequestInfo,
    readonly rng: Rng,
    readonly fired: readonly CompiledExperiment[],
  ) {
    // Drawn once, before any fault runs: the per-experiment streams derive from it.
    this.baseSeed = rng.next() * 4294967296;
    info.res.once('close', this.onClientClose);
    // A pipelined response queued behind another never emits 'close' when the socket dies.
    this.socket = info.req.socket;
    this.socket.once('close', this.onClientClose);
    // Draining must not wait for a hang or a long delay: they are released at shutdown, and a
    // request that starts while draining (on a kept-alive connection) gets no faults at all.
    if (env.shutdown?.aborted) this.onSessionAbort();
    else env.shutdown?.addEventListener('abort', this.onSessionAbort, { once: true });
  }

  /** Called once per fault that acted: log line, counter, active gauge, response marker. */
  record(exp: CompiledExperiment): void {
    const { info, env } = this;
    const session = exp.session;
    if (session && !this.sessions.has(session)) {
      this.sessions.add(session);
      session.signal.addEventListener('abort', this.onSessionAbort, { once: true });
      session.injected(info.agent, info.tenant);
    }
    this.injected.push(`${exp.name}/${exp.type}`);
    this.injectedTypes.push(exp.type);
    env.faults.injected(info.agent, info.tool, exp.name, exp.type);
    if (!this.active) {
      this.active = true;
      env.faults.active.inc();
    }
    env.logger.info(
      {
        reqId: info.requestId,
        agent: info.agent,
        tenant: info.tenant,
        tool: info.tool,
        experiment: exp.name,
        fault: exp.type,
      },
      'fault injected',
    );
  }

  /** The header value of `x-faultgate-injected`, if marking is on and something was injected. */
  marker(): string | undefined {
    return this.env.markInjected && this.injected.length > 0 ? this.injected.join(', ') : undefined;
  }

  /** One random stream per experiment, seeded from the request's: a fault that draws per chunk
   * cannot shift another fault's draws when the upstream splits its writes differently. */
  private readonly rngs = new Map<CompiledExperiment, Rng>();

  private rngFor(exp: CompiledExperiment): Rng {
    let rng = this.rngs.get(exp);
    if (!rng) {
      rng = new SeededRng(hash32(exp.name, Math.floor(this.baseSeed)));
      this.rngs.set(exp, rng);
    }
    return rng;
  }

  context(exp: CompiledExperiment): FaultContext {
    const run = this;
    const { info } = this;
    return {
      rng: this.rngFor(exp),
      requestId: info.requestId,
      agent: info.agent,
      tenant: info.tenant,
      tool: info.tool,
      experiment: exp.name,
      dialect: exp.dialect ?? info.toolDialect,
      method: info.req.method ?? 'GET',
      path: info.req.url ?? '/',
      requestHeaders: info.req.headers,
      get jsonRpcId() {
        return run.jsonRpcId;
      },
      maxBodyBytes: this.env.maxBodyBytes,
      signal: this.controller.signal,
      sleep: (ms) => this.sleep(ms),
      skipped: (reason) => {
        this.skippedExperiments.add(exp);
        this.env.faults.skipped(exp.name, exp.type, reason);
        this.env.logger.debug(
          { reqId: info.requestId, experiment: exp.name, fault: exp.type, reason },
          'fault skipped',
        );
      },
      cutConnection: (how) => cut(info.res.socket ?? info.req.socket, how),
      now: () => Date.now(),
    };
  }

  /** An interruptible wait: resolves true after `ms`, or false as soon as the run ends. */
  sleep(ms: number): Promise<boolean> {
    if (this.controller.signal.aborted) return Promise.resolve(false);
    return new Promise((resolve) => {
      const done = (completed: boolean) => {
        clearTimeout(timer);
        this.timers.delete(timer);
        this.controller.signal.removeEventListener('abort', onAbort);
        resolve(completed);
      };
      const onAbort = () => done(false);
      const timer = setTimeout(() => done(true), ms);
      this.timers.add(timer);
      this.controller.signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** The request is over (response closed or client gone): release waits, timers and the gauge. */
  end(): void {
    this.socket.off('close', this.onClientClose);
    if (!this.controller.signal.aborted) this.controller.abort();
    for (const s of this.sessions) s.signal.removeEventListener('abort', this.onSessionAbort);
    this.sessions.clear();
    this.env.shutdown?.removeEventListener('abort', this.onSessionAbort);
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    if (this.active) {
      this.active = false;
      this.env.faults.active.dec();
    }
  }
}

export function cut(socket: Socket | null, how: 'reset' | 'close'): void {
  if (!socket || socket.destroyed) return;
  // An intercepted TLS socket cannot send an RST itself (resetAndDestroy needs a TCP handle): its TCP socket does.
  if (how === 'reset') (tunnelOf(socket)?.raw ?? socket).resetAndDestroy();
  else socket.destroy();
}

/** Carries out a request-phase answer on the client connection. */
export function answer(run: ChaosRun, action: PreAction): void {
  const { req, res } = run.info;
  switch (action.kind) {
    case 'respond': {
      run.retryAfterMs = retryAfterOf(action.headers);
      const body = typeof action.body === 'string' ? Buffer.from(action.body) : action.body;
      const marker = run.marker();
      res.writeHead(action.status, {
        ...action.headers,
        'content-length': String(body.length),
        ...(marker ? { 'x-faultgate-injected': marker } : {}),
      });
      res.end(body);
      req.resume(); // the unread request body is discarded so the connection can be reused
      return;
    }
    case 'reset':
      cut(req.socket, 'reset');
      return;
    case 'close':
      cut(req.socket, 'close');
      return;
    case 'continue':
      return;
    case 'hang':
      // Nothing is sent; the response closes when the client gives up (or the server times it
      // out, or the session is aborted).
      run.hanging = true;
      req.resume();
      return;
  }
}

/** `retry-after-ms`, else `retry-after` in seconds (an HTTP date is not used by our faults). */
function retryAfterOf(headers: Record<string, string>): number | undefined {
  for (const [name, value] of Object.entries(headers)) {
    const lower = name.toLowerCase();
    if (lower === 'retry-after-ms' && Number.isFinite(Number(value))) return Number(value);
  }
  for (const [name, value] of Object.entries(headers)) {
    if (name.toLowerCase() === 'retry-after' && Number.isFinite(Number(value))) return Number(value) * 1000;
  }
  return undefined;
}
