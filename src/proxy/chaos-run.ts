import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Decision } from '../chaos/engine.js';
import type { CompiledExperiment } from '../chaos/experiment.js';
import type { Config } from '../config/schema.js';
import type { Peek, ProxyEnv, RequestPlan } from './context.js';
import { FaultRun, type RunSubject } from './fault-run.js';
import { rawSocketOf } from './route.js';

/**
 * The chaos state of one request: the fired experiments, their contexts, and what the request
 * path needs beyond the bookkeeping every run shares (`FaultRun`): the injected list for the
 * marker header, skipped and body-breaking experiments, the peeked body.
 */
export class ChaosRun extends FaultRun {
  readonly injected: string[] = [];
  /** Experiments that passed a body through untouched: their declared failure did not happen. */
  readonly skippedExperiments = new Set<CompiledExperiment>();
  /** Response faults whose effect declared a broken body: the exchange failed unless they skipped. */
  readonly bodyBreakers: CompiledExperiment[] = [];
  /** The request body once a fault read it (or identity's peek): read at most once per request. */
  peek: Peek | undefined;
  /** Retry-After (ms) of an injected answer. */
  retryAfterMs: number | undefined;
  readonly fired: readonly CompiledExperiment[];
  protected readonly subject: RunSubject;

  constructor(
    env: ProxyEnv,
    private readonly config: Config,
    readonly plan: RequestPlan,
    readonly res: ServerResponse,
    decision: Decision,
  ) {
    // The client socket (Node detaches `req.socket` when the response is done); a pipelined
    // response queued behind another never emits 'close' when the socket dies, so both are heard.
    super(env, decision, decision.fired, plan.req.socket);
    this.fired = decision.fired;
    this.peek = plan.peek;
    const { req } = plan;
    this.subject = {
      requestId: plan.requestId,
      agent: plan.agent,
      tenant: plan.tenant,
      tool: plan.tool,
      method: req.method ?? 'GET',
      path: req.url ?? '/',
      requestHeaders: req.headers,
      dialect: plan.dialect,
      maxBodyBytes: config.limits.max_body_bytes,
    };
    res.once('close', this.onClientClose);
  }

  protected releaseHang(): void {
    dropConnection(this.plan.req.socket, 'close');
  }

  /** Called once per fault that acted: log line, counter, active gauge, response marker. */
  record(exp: CompiledExperiment): void {
    this.injected.push(`${exp.name}/${exp.type}`);
    this.injectedFault(exp, 'fault injected');
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

  faultSkipped(exp: CompiledExperiment, reason: string): void {
    this.skippedExperiments.add(exp);
    this.env.metrics.faults.skipped(exp.name, exp.type, reason);
    this.env.logger.debug(
      { reqId: this.plan.requestId, experiment: exp.name, fault: exp.type, reason },
      'fault skipped',
    );
  }

  cutConnection(how: 'reset' | 'close'): void {
    dropConnection(this.res.socket ?? this.plan.req.socket, how);
  }
}

/** Ends a client connection at once: `reset` sends a TCP RST, `close` a FIN. */
export function dropConnection(socket: Socket | null, how: 'reset' | 'close'): void {
  if (!socket || socket.destroyed) return;
  // An intercepted TLS socket cannot send an RST itself (resetAndDestroy needs a TCP handle): its TCP socket does.
  if (how === 'reset') (rawSocketOf(socket) ?? socket).resetAndDestroy();
  else socket.destroy();
}
