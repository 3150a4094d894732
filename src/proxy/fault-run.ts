import type { IncomingHttpHeaders } from 'node:http';
import type { Socket } from 'node:net';
import type { Decision } from '../chaos/engine.js';
import type { CompiledExperiment, ExperimentOwner } from '../chaos/experiment.js';
import { hash32, SeededRng } from '../chaos/rng.js';
import type { FaultContext } from '../faults/types.js';
import type { Dialect, Rng } from '../types.js';
import type { ProxyEnv } from './context.js';

/** The abort reason of every run: a shared Error, because abort() without one builds a DOMException (~20 µs). */
const RUN_ENDED = new Error('request ended');

/**
 * The runs in flight, and one abort listener per stop signal (shutdown, a session, the API's
 * overrides) for all of them. A listener per run cost two `addEventListener` and two
 * `removeEventListener` calls on every faulted request (~1.2 µs per signal); a signal aborts
 * rarely, and then every live run is asked whether it was one of its stops.
 */
class LiveRuns {
  private readonly runs = new Set<FaultRun>();
  private readonly watched = new WeakSet<AbortSignal>();

  add(run: FaultRun, stops: readonly AbortSignal[]): void {
    for (const signal of stops) {
      if (this.watched.has(signal)) continue;
      this.watched.add(signal);
      signal.addEventListener('abort', () => this.aborted(signal), { once: true });
    }
    this.runs.add(run);
  }

  delete(run: FaultRun): void {
    this.runs.delete(run);
  }

  /** A run that ends while this loops deletes itself; `Set` iteration skips what was deleted. */
  private aborted(signal: AbortSignal): void {
    for (const run of this.runs) run.heard(signal);
  }
}

const liveRuns = new LiveRuns();

/**
 * What a run's faults are told about the request (or tunnel) they act on, the same for each of
 * its faults; `dialect` is the one a fault without its own `format` uses.
 */
export type RunSubject = Pick<
  FaultContext,
  | 'requestId'
  | 'agent'
  | 'tenant'
  | 'tool'
  | 'dialect'
  | 'method'
  | 'path'
  | 'requestHeaders'
  | 'maxBodyBytes'
>;

/**
 * What one fault of a run sees. A class, not an object literal with getters and arrow
 * functions: V8 kept everything a literal's getters closed over (the run, the request, the
 * response, the socket's objects) alive through every young-generation GC until the next full
 * one, so each faulted request's objects were promoted to the old space (36 MB per 10,000
 * requests at 100% faults, 1.9 MB with this class; docs/performance.md).
 */
class RunFaultContext implements FaultContext {
  readonly rng: Rng;
  readonly requestId: number;
  readonly agent: string;
  readonly tenant: string;
  readonly tool: string;
  readonly experiment: string;
  readonly dialect: Dialect;
  readonly method: string;
  readonly path: string;
  readonly requestHeaders: IncomingHttpHeaders;
  readonly maxBodyBytes: number;

  constructor(
    private readonly run: FaultRun,
    private readonly exp: CompiledExperiment,
    subject: RunSubject,
  ) {
    this.rng = run.rngFor(exp);
    this.requestId = subject.requestId;
    this.agent = subject.agent;
    this.tenant = subject.tenant;
    this.tool = subject.tool;
    this.experiment = exp.name;
    this.dialect = exp.dialect ?? subject.dialect;
    this.method = subject.method;
    this.path = subject.path;
    this.requestHeaders = subject.requestHeaders;
    this.maxBodyBytes = subject.maxBodyBytes;
  }

  get jsonRpcId(): string | number | null | undefined {
    return this.run.jsonRpcId;
  }

  get signal(): AbortSignal {
    return this.run.signal;
  }

  sleep(ms: number): Promise<boolean> {
    return this.run.sleep(ms);
  }

  skipped(reason: string): void {
    this.run.faultSkipped(this.exp, reason);
  }

  cutConnection(how: 'reset' | 'close'): void {
    this.run.cutConnection(how);
  }

  now(): number {
    return Date.now();
  }
}

/**
 * The chaos bookkeeping a request (`ChaosRun`) and an opaque tunnel (`TunnelRun`) share: the
 * abort signals that end its faults (shutdown, the fired experiments' sessions, the decision's
 * own), interruptible waits, one random stream per experiment, each session counted once, the
 * active-faults gauge, and the release of all of it when the client leaves or the run ends.
 */
export abstract class FaultRun {
  /** Made on first use of `signal`: most runs end with nothing waiting on it. */
  private abortController: AbortController | undefined;
  private ended = false;
  /** The fault types injected, in order (for the recovery tracker). */
  readonly injectedTypes: string[] = [];
  /** The client left: nothing more is sent. */
  clientGone = false;
  /** A session of this run was aborted (or faultgate shuts down): its faults end. */
  sessionAborted = false;
  /** Held by a `hang`: a session abort or shutdown closes the connection. */
  hanging = false;
  private active = false;
  private readonly timers = new Set<NodeJS.Timeout>();
  /** Sessions this run counted against (once each). */
  private readonly sessions = new Set<ExperimentOwner>();
  /** Every abort signal that ends this run's faults: heard from the start. */
  private readonly stops: AbortSignal[] = [];
  private readonly baseSeed: number;
  /** One random stream per experiment, seeded from the run's: a fault that draws per chunk
   * cannot shift another fault's draws when the upstream splits its writes differently. */
  private readonly rngs = new Map<CompiledExperiment, Rng>();
  /** The request's trace id (`trace.from`): in the fault log lines, so a person can find the run. */
  readonly trace: string | undefined;
  /** JSON-RPC id of the request once read (MCP), for dialect errors that echo it. */
  jsonRpcId: string | number | null | undefined;

  protected readonly onClientClose = (): void => {
    this.clientGone = true;
    this.end();
  };
  private readonly onSessionAbort = (): void => {
    this.sessionAborted = true;
    // A released hang has nothing to send: the connection is closed (as a timeout would).
    if (this.hanging) this.releaseHang();
    this.end();
  };

  constructor(
    protected readonly env: ProxyEnv,
    decision: Decision,
    fired: readonly CompiledExperiment[],
    /** The client connection (a request's: Node detaches `req.socket` when the response is done). */
    private readonly clientSocket: Socket,
  ) {
    this.trace = decision.trace;
    // Drawn once, before any fault runs: the per-experiment streams derive from it.
    this.baseSeed = decision.rng.next() * 4294967296;
    clientSocket.once('close', this.onClientClose);
    // Draining must not wait for a hang or a long delay: they are released at shutdown.
    if (env.shutdown) this.stops.push(env.shutdown);
    // Before any fault runs: a first wait (latency, first_byte) must hear an abort too.
    for (const exp of fired) {
      if (exp.session && !this.stops.includes(exp.session.signal)) this.stops.push(exp.session.signal);
    }
    if (decision.signal) this.stops.push(decision.signal);
    if (this.stops.some((s) => s.aborted)) this.onSessionAbort();
    else liveRuns.add(this, this.stops);
  }

  /** `signal` aborted: the run ends if it is one of its stops. */
  heard(signal: AbortSignal): void {
    if (this.stops.includes(signal)) this.onSessionAbort();
  }

  /** Ends a connection held by a `hang` whose session was aborted. */
  protected abstract releaseHang(): void;

  /** What the faults are told about the request or tunnel. */
  protected abstract readonly subject: RunSubject;

  /** A fault passed its body through untouched: counted with the reason. */
  abstract faultSkipped(exp: CompiledExperiment, reason: string): void;

  /** Ends the client connection mid-response for a fault. */
  abstract cutConnection(how: 'reset' | 'close'): void;

  /** What fault `exp` sees while it runs on this request or tunnel. */
  context(exp: CompiledExperiment): FaultContext {
    return new RunFaultContext(this, exp, this.subject);
  }

  /**
   * A fault that acted: counted (its session once, the counter, the active gauge) and logged
   * with who it hit (the run's subject); `target` is a tunnel's CONNECT authority.
   */
  protected injectedFault(exp: CompiledExperiment, message: string, target?: string): void {
    const party = this.subject;
    const session = exp.session;
    if (session && !this.sessions.has(session)) {
      this.sessions.add(session);
      session.injected(party.agent, party.tenant, this.trace);
    }
    this.injectedTypes.push(exp.type);
    this.env.metrics.faults.injected(party.agent, party.tool, exp.name, exp.type);
    if (!this.active) {
      this.active = true;
      this.env.metrics.faults.active.inc();
    }
    this.env.logger.info(
      {
        reqId: party.requestId,
        agent: party.agent,
        tenant: party.tenant,
        tool: party.tool,
        ...(target !== undefined ? { target } : {}),
        experiment: exp.name,
        fault: exp.type,
        ...(this.trace ? { trace: this.trace } : {}),
      },
      message,
    );
  }

  rngFor(exp: CompiledExperiment): Rng {
    let rng = this.rngs.get(exp);
    if (!rng) {
      rng = new SeededRng(hash32(exp.name, Math.floor(this.baseSeed)));
      this.rngs.set(exp, rng);
    }
    return rng;
  }

  /** Aborted when the run ends (already aborted when asked for after that). */
  get signal(): AbortSignal {
    if (!this.abortController) {
      this.abortController = new AbortController();
      if (this.ended) this.abortController.abort(RUN_ENDED);
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

  /** The run is over (response closed, tunnel settled, client gone): release waits, timers, gauge. */
  end(): void {
    this.clientSocket.off('close', this.onClientClose);
    this.ended = true;
    if (this.abortController && !this.abortController.signal.aborted) this.abortController.abort(RUN_ENDED);
    liveRuns.delete(this);
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
