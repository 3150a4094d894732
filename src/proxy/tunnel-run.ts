import type { Socket } from 'node:net';
import type { Decision } from '../chaos/engine.js';
import type { CompiledExperiment } from '../chaos/experiment.js';
import type { ProxyEnv } from './context.js';
import { FaultRun, type RunSubject } from './fault-run.js';

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
  protected readonly subject: RunSubject;

  constructor(
    env: ProxyEnv,
    readonly facts: TunnelFacts,
    private readonly client: Socket,
    decision: Decision,
    fired: readonly CompiledExperiment[],
    /** Ends the client connection for a fault (a mid-stream reset). */
    private readonly cut: (how: 'reset' | 'close') => void,
  ) {
    super(env, decision, fired, client);
    this.subject = {
      requestId: facts.requestId,
      agent: facts.agent,
      tenant: facts.tenant,
      tool: facts.tool,
      method: 'CONNECT',
      path: facts.authority,
      requestHeaders: facts.headers,
      dialect: 'json',
      maxBodyBytes: 0,
    };
  }

  protected releaseHang(): void {
    this.client.destroy();
  }

  record(exp: CompiledExperiment): void {
    this.injectedFault(exp, 'fault injected (tunnel)', this.facts.authority);
  }

  faultSkipped(exp: CompiledExperiment, reason: string): void {
    this.env.metrics.faults.skipped(exp.name, exp.type, reason);
  }

  cutConnection(how: 'reset' | 'close'): void {
    this.cut(how);
  }
}
