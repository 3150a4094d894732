import type { Socket } from 'node:net';
import type { Decision } from '../chaos/engine.js';
import type { CompiledExperiment } from '../chaos/experiment.js';
import type { FaultContext } from '../faults/types.js';
import type { ProxyEnv } from './context.js';
import { FaultRun } from './fault-run.js';

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
 * The chaos state of one opaque tunnel, as ChaosRun is for a request: the shared bookkeeping
 * (`FaultRun`: waits, sessions, gauge, release on abort), its log line and fault contexts.
 */
export class TunnelRun extends FaultRun {
  constructor(
    env: ProxyEnv,
    readonly facts: TunnelFacts,
    private readonly client: Socket,
    decision: Decision,
    fired: readonly CompiledExperiment[],
    /** Ends the client connection for a fault (a mid-stream reset). */
    private readonly cutConnection: (how: 'reset' | 'close') => void,
  ) {
    super(env, decision, fired, client);
  }

  protected releaseHang(): void {
    this.client.destroy();
  }

  record(exp: CompiledExperiment): void {
    this.injectedFault(exp, this.facts, 'fault injected (tunnel)', this.facts.authority);
  }

  context(exp: CompiledExperiment): FaultContext {
    const run = this;
    const { facts } = this;
    return {
      // One stream per experiment, as for requests: one fault's draws never shift another's.
      rng: this.rngFor(exp),
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
      get signal() {
        return run.signal;
      },
      sleep: (ms) => this.sleep(ms),
      skipped: (reason) => this.env.metrics.faults.skipped(exp.name, exp.type, reason),
      cutConnection: this.cutConnection,
      now: () => Date.now(),
    };
  }
}
