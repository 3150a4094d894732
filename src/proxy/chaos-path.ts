import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import type { Decision } from '../chaos/engine.js';
import type { CompiledExperiment } from '../chaos/experiment.js';
import type { Dialect } from '../types.js';
import { mcpFromBody } from '../identity/index.js';
import { ChaosExchange } from './chaos-exchange.js';
import { answer, ChaosRun } from './chaos-run.js';
import { Exchange } from './exchange.js';
import type { ProxyEnv, ProxyState } from './listener.js';
import { hasJsonBody, labelled, type Peek, peekBody, replay } from './request-body.js';
import type { UpstreamTarget } from './upstream.js';

/** One upstream call being prepared: everything dispatch needs, which faults may still change. */
export interface Call {
  req: IncomingMessage;
  res: ServerResponse;
  agent: string;
  tenant: string;
  tool: string;
  dialect: Dialect;
  target: UpstreamTarget;
  path: string;
  /** Flat [name, value, ...] upstream request headers. */
  headers: string[];
  body: Readable | Buffer | null;
  startedAt: number;
  requestId: number;
  peek: Peek | undefined;
}

/** Reads (at most `limit` bytes of) the request body once, keeping it replayable for the upstream. */
async function readBody(call: Call, limit: number): Promise<Peek> {
  // A body already peeked (for MCP identity) is reused, complete or not: it is read only once.
  call.peek ??= await peekBody(call.req, limit);
  const peek = call.peek;
  call.body = peek.complete ? peek.body : Readable.from(replay(peek, call.req));
  return peek;
}

function setContentLength(headers: string[], length: number): void {
  for (let i = 0; i < headers.length; i += 2) {
    if (headers[i]!.toLowerCase() === 'content-length') {
      headers[i + 1] = String(length);
      return;
    }
  }
  headers.push('content-length', String(length));
}

/**
 * Runs the fired experiments of one request: request-phase faults in config order (the first
 * that answers wins), request-body rewrites, then hands the response faults to a ChaosExchange.
 * Resolves to the exchange to dispatch, or undefined when a fault answered (or the client left).
 */
export async function runChaos(
  env: ProxyEnv,
  state: ProxyState,
  call: Call,
  decision: Decision,
): Promise<Exchange | undefined> {
  const { config } = state;
  const { req, res, agent, tool, startedAt, requestId } = call;
  const faults = env.metrics.faults;
  const cap = config.safety.max_active_faults;
  if (cap > 0 && faults.activeCount() >= cap) {
    for (const exp of decision.fired) faults.overflow(exp.name, exp.type);
    return labelled(new Exchange(env, req, res, agent, tool, startedAt, requestId), call);
  }
  const exchange = new ChaosExchange(env, req, res, agent, tool, startedAt, requestId);
  const run = new ChaosRun(
    {
      logger: env.logger,
      faults,
      markInjected: config.chaos.mark_injected,
      maxBodyBytes: config.limits.max_body_bytes,
      shutdown: env.shutdown,
    },
    { requestId, agent, tenant: call.tenant, tool, toolDialect: call.dialect, req, res },
    decision.rng,
    decision.fired,
  );
  exchange.run = run;
  if (decision.fired.some((e) => (e.dialect ?? call.dialect) === 'mcp') && hasJsonBody(req)) {
    const peek = await readBody(call, config.limits.mcp_peek_bytes);
    if (peek.complete) run.jsonRpcId = mcpFromBody(peek.body).id;
  }
  for (const exp of decision.fired) {
    if (!exp.fault.request) continue;
    const action = await exp.fault.request(run.context(exp));
    if (run.clientGone) return undefined; // the client left during a wait
    if (run.sessionAborted) break; // the session was aborted: the request goes on without faults
    if (!action) continue;
    run.record(exp);
    if (action.kind === 'continue') continue;
    labelled(exchange, call);
    answer(run, action);
    if (action.kind === 'respond') exchange.answered(action.status);
    return undefined;
  }
  if (run.sessionAborted) {
    labelled(exchange, call);
    return exchange;
  }
  await rewriteRequestBody(call, run, decision.fired, config.limits.max_body_bytes);
  if (run.clientGone) return undefined;
  labelled(exchange, call);
  exchange.responseFaults = decision.fired.filter((e) => e.fault.response);
  return exchange;
}

async function rewriteRequestBody(
  call: Call,
  run: ChaosRun,
  fired: readonly CompiledExperiment[],
  limit: number,
): Promise<void> {
  const rewriters = fired.filter((e) => e.fault.requestBody);
  if (rewriters.length === 0 || call.body === null) return;
  const peek = await readBody(call, limit);
  if (!peek.complete) {
    for (const exp of rewriters) run.context(exp).skipped('request body over max_body_bytes');
    return;
  }
  let body = peek.body;
  for (const exp of rewriters) {
    const out = exp.fault.requestBody!(run.context(exp), body, call.req.headers);
    if (out) {
      body = out;
      run.record(exp);
    }
  }
  if (body !== peek.body) {
    call.body = body;
    setContentLength(call.headers, body.length);
  }
}
