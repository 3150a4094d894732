import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Decision } from '../chaos/engine.js';
import type { CompiledExperiment, ExperimentOwner } from '../chaos/experiment.js';
import { hash32, SeededRng } from '../chaos/rng.js';
import type { Config } from '../config/schema.js';
import type { FaultContext } from '../faults/types.js';
import type { Rng } from '../types.js';
import type { Peek, ProxyEnv, RequestPlan } from './context.js';
import { rawSocketOf } from './route.js';

/**
 * The chaos state of one request: the fired experiments, their contexts, the abort signal
 * that cuts every wait short, and the bookkeeping of what was injected.
 */
/** The abort reason of every run: a shared Error, because abort() without one builds a DOMException (~20 µs). */
const REQUEST_ENDED = new Error('request ended');

export class ChaosRun {
  /** Made on first use of `signal`: most runs end with nothing waiting on it. */
  private abortController: AbortController | undefined;
  private ended = false;
  readonly injected: string[] = [];
  /** The fault types behind `injected`, for the recovery tracker. */
  readonly injectedTypes: string[] = [];
  /** Experiments that passed a body through untouched: their declared failure did not happen. */
  readonly skippedExperiments = new Set<CompiledExperiment>();
  /** Response faults whose effect declared a broken body: the exchange failed unless they skipped. */
  readonly bodyBreakers: CompiledExperiment[] = [];
  /** The request body once a fault read it (or identity's peek): read at most once per request. */
  peek: Peek | undefined;
  /** Retry-After (ms) of an injected answer. */
  retryAfterMs: number | undefined;
  jsonRpcId: string | number | null | undefined;
  private active = false;
  private readonly timers = new Set<NodeJS.Timeout>();
  /** Sessions this request counted against (once each). */
  private readonly sessions = new Set<ExperimentOwner>();
  /** Every abort signal that ends this request's faults: heard from the first wait on. */
  private readonly stops: AbortSignal[] = [];
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
    if (this.hanging) dropConnection(this.plan.req.socket, 'close');
    this.end();
  };

  readonly fired: readonly CompiledExperiment[];
  /** The request's trace id (`trace.from`): in the fault log lines, so a person can find the run. */
  readonly trace: string | undefined;

  constructor(
    private readonly env: ProxyEnv,
    private readonly config: Config,
    readonly plan: RequestPlan,
    readonly res: ServerResponse,
    decision: Decision,
  ) {
    this.fired = decision.fired;
    this.trace = decision.trace;
    this.peek = plan.peek;
    // Drawn once, before any fault runs: the per-experiment streams derive from it.
    this.baseSeed = decision.rng.next() * 4294967296;
    res.once('close', this.onClientClose);
    // A pipelined response queued behind another never emits 'close' when the socket dies.
    this.socket = plan.req.socket;
    this.socket.once('close', this.onClientClose);
    // Draining must not wait for a hang or a long delay: they are released at shutdown, and a
    // request that starts while draining (on a kept-alive connection) gets no faults at all.
    if (env.shutdown) this.stops.push(env.shutdown);
    // Before any fault runs: a request-phase wait (latency, first_byte) must hear an abort too.
    for (const exp of decision.fired) {
      if (exp.session && !this.stops.includes(exp.session.signal)) this.stops.push(exp.session.signal);
    }
    if (decision.signal) this.stops.push(decision.signal);
    if (this.stops.some((s) => s.aborted)) this.onSessionAbort();
    else for (const s of this.stops) s.addEventListener('abort', this.onSessionAbort, { once: true });
  }

  /** Called once per fault that acted: log line, counter, active gauge, response marker. */
  record(exp: CompiledExperiment): void {
    const { plan, env } = this;
    const session = exp.session;
    if (session && !this.sessions.has(session)) {
      this.sessions.add(session);
      session.injected(plan.agent, plan.tenant, this.trace);
    }
    this.injected.push(`${exp.name}/${exp.type}`);
    this.injectedTypes.push(exp.type);
    env.metrics.faults.injected(plan.agent, plan.tool, exp.name, exp.type);
    if (!this.active) {
      this.active = true;
      env.metrics.faults.active.inc();
    }
    env.logger.info(
      {
        reqId: plan.requestId,
        agent: plan.agent,
        tenant: plan.tenant,
        tool: plan.tool,
        experiment: exp.name,
        fault: exp.type,
        ...(this.trace ? { trace: this.trace } : {}),
      },
      'fault injected',
    );
  }

  /** The header value of `x-faultgate-injected`, if marking is on and something was injected. */
  marker(): string | undefined {
    return this.config.chaos.mark_injected && this.injected.length > 0 ? this.injected.join(', ') : undefined;
  }

  /**
   * Whether a response fault broke the body. Known only at the end: one that passed the body
   * through untouched (shorter than the cut, not JSON) reported a skip and broke nothing.
   */
  brokeBody(): boolean {
    for (const exp of this.bodyBreakers) if (!this.skippedExperiments.has(exp)) return true;
    return false;
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
    const { plan, env } = this;
    const { req } = plan;
    return {
      rng: this.rngFor(exp),
      requestId: plan.requestId,
      agent: plan.agent,
      tenant: plan.tenant,
      tool: plan.tool,
      experiment: exp.name,
      dialect: exp.dialect ?? plan.dialect,
      method: req.method ?? 'GET',
      path: req.url ?? '/',
      requestHeaders: req.headers,
      get jsonRpcId() {
        return run.jsonRpcId;
      },
      maxBodyBytes: this.config.limits.max_body_bytes,
      get signal() {
        return run.signal;
      },
      sleep: (ms) => this.sleep(ms),
      skipped: (reason) => {
        this.skippedExperiments.add(exp);
        env.metrics.faults.skipped(exp.name, exp.type, reason);
        env.logger.debug(
          { reqId: plan.requestId, experiment: exp.name, fault: exp.type, reason },
          'fault skipped',
        );
      },
      cutConnection: (how) => dropConnection(this.res.socket ?? req.socket, how),
      now: () => Date.now(),
    };
  }

  /** Aborted when the run ends (already aborted when asked for after that). */
  get signal(): AbortSignal {
    if (!this.abortController) {
      this.abortController = new AbortController();
      if (this.ended) this.abortController.abort(REQUEST_ENDED);
    }
    return this.abortController.signal;
  }

  /** An interruptible wait: resolves true after `ms`, or false as soon as the run ends. */
  sleep(ms: number): Promise<boolean> {
    if (this.ended) return Promise.resolve(false);
    return new Promise((resolve) => {
      const done = (completed: boolean) => {
        clearTimeout(timer);
        this.timers.delete(timer);
        this.signal.removeEventListener('abort', onAbort);
        resolve(completed);
      };
      const onAbort = () => done(false);
      const timer = setTimeout(() => done(true), ms);
      this.timers.add(timer);
      this.signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** The request is over (response closed or client gone): release waits, timers and the gauge. */
  end(): void {
    this.socket.off('close', this.onClientClose);
    this.ended = true;
    if (this.abortController && !this.abortController.signal.aborted)
      this.abortController.abort(REQUEST_ENDED);
    for (const s of this.stops) s.removeEventListener('abort', this.onSessionAbort);
    this.stops.length = 0;
    this.sessions.clear();
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    if (this.active) {
      this.active = false;
      this.env.metrics.faults.active.dec();
    }
  }
}

/** Ends a client connection at once: `reset` sends a TCP RST, `close` a FIN. */
export function dropConnection(socket: Socket | null, how: 'reset' | 'close'): void {
  if (!socket || socket.destroyed) return;
  // An intercepted TLS socket cannot send an RST itself (resetAndDestroy needs a TCP handle): its TCP socket does.
  if (how === 'reset') (rawSocketOf(socket) ?? socket).resetAndDestroy();
  else socket.destroy();
}
