import type { Socket } from 'node:net';
import type { CompiledExperiment, ExperimentOwner } from '../chaos/experiment.js';
import { hash32, SeededRng } from '../chaos/rng.js';
import type { FaultContext, Rng } from '../faults/types.js';
import type { ProxyEnv } from './context.js';

/** Fault types that mean something on bytes faultgate cannot read (SPEC section 3). */
export const tunnelFaultTypes: ReadonlySet<string> = new Set([
  'latency',
  'reset',
  'close',
  'timeout',
  'bandwidth',
]);

export interface TunnelFacts {
  requestId: number;
  agent: string;
  tenant: string;
  tool: string;
  authority: string;
  headers: Record<string, string | string[] | undefined>;
}

/**
 * The chaos state of one opaque tunnel, as ChaosRun is for a request: interruptible waits,
 * what was injected (log, counter, active gauge, session safety), and release on abort.
 */
export class TunnelRun {
  readonly controller = new AbortController();
  readonly injectedTypes: string[] = [];
  clientGone = false;
  sessionAborted = false;
  /** Held open by a `hang`: a session abort or shutdown closes it. */
  hanging = false;
  private active = false;
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly sessions = new Set<ExperimentOwner>();
  private readonly baseSeed: number;
  private readonly onClientClose = (): void => {
    this.clientGone = true;
    this.end();
  };
  private readonly onSessionAbort = (): void => {
    this.sessionAborted = true;
    if (this.hanging) this.client.destroy();
    this.end();
  };

  constructor(
    private readonly env: ProxyEnv,
    readonly facts: TunnelFacts,
    private readonly client: Socket,
    rng: Rng,
    /** Ends the client connection for a fault (a mid-stream reset). */
    private readonly cutConnection: (how: 'reset' | 'close') => void,
  ) {
    this.baseSeed = rng.next() * 4294967296;
    client.once('close', this.onClientClose);
    if (env.shutdown?.aborted) this.onSessionAbort();
    else env.shutdown?.addEventListener('abort', this.onSessionAbort, { once: true });
  }

  record(exp: CompiledExperiment): void {
    const { facts, env } = this;
    const session = exp.session;
    if (session && !this.sessions.has(session)) {
      this.sessions.add(session);
      session.signal.addEventListener('abort', this.onSessionAbort, { once: true });
      session.injected(facts.agent, facts.tenant);
    }
    this.injectedTypes.push(exp.type);
    env.metrics.faults.injected(facts.agent, facts.tool, exp.name, exp.type);
    if (!this.active) {
      this.active = true;
      env.metrics.faults.active.inc();
    }
    env.logger.info(
      {
        reqId: facts.requestId,
        agent: facts.agent,
        tenant: facts.tenant,
        tool: facts.tool,
        target: facts.authority,
        experiment: exp.name,
        fault: exp.type,
      },
      'fault injected (tunnel)',
    );
  }

  context(exp: CompiledExperiment): FaultContext {
    const { facts } = this;
    return {
      // One stream per experiment, as for requests: one fault's draws never shift another's.
      rng: new SeededRng(hash32(exp.name, Math.floor(this.baseSeed))),
      requestId: facts.requestId,
      agent: facts.agent,
      tenant: facts.tenant,
      tool: facts.tool,
      experiment: exp.name,
      dialect: exp.dialect ?? 'json',
      method: 'CONNECT',
      path: facts.authority,
      requestHeaders: facts.headers,
      jsonRpcId: undefined,
      maxBodyBytes: 0,
      signal: this.controller.signal,
      sleep: (ms) => this.sleep(ms),
      skipped: (reason) => this.env.metrics.faults.skipped(exp.name, exp.type, reason),
      cutConnection: this.cutConnection,
      now: () => Date.now(),
    };
  }

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

  /** The tunnel is over (or its faults were released): waits end, gauge and listeners go. */
  end(): void {
    this.client.off('close', this.onClientClose);
    if (!this.controller.signal.aborted) this.controller.abort();
    for (const s of this.sessions) s.signal.removeEventListener('abort', this.onSessionAbort);
    this.sessions.clear();
    this.env.shutdown?.removeEventListener('abort', this.onSessionAbort);
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    if (this.active) {
      this.active = false;
      this.env.metrics.faults.active.dec();
    }
  }
}
