import type { ServerResponse } from 'node:http';
import type { Dispatcher } from 'undici';
import type { Decision } from '../chaos/engine.js';
import type { PreAction } from '../faults/types.js';
import { mcpFromBody } from '../identity/index.js';
import { ChaosRun, dropConnection } from './chaos-run.js';
import type { Peek, ProxyEnv, ProxyState, RequestPlan } from './context.js';
import { Exchange } from './exchange.js';
import { FaultHandler } from './fault-handler.js';
import { bodyAfterPeek, hasJsonBody, peekBody } from './request-body.js';

/** What the exchange step hands to dispatch: the plan to send and the handler of its response. */
export interface PreparedCall {
  plan: RequestPlan;
  handler: Dispatcher.DispatchHandler;
}

/**
 * The exchange step of a request that got faults: request-phase faults in config order (the
 * first that answers wins), request-body rewrites, then the response faults wrapped around the
 * Exchange. Resolves to the call to dispatch, or undefined when a fault answered (or the client
 * left). The Exchange exists from the start, so a client that leaves during a fault's wait is
 * recorded like any other.
 */
export async function prepareFaultedCall(
  env: ProxyEnv,
  state: ProxyState,
  plan: RequestPlan,
  res: ServerResponse,
  decision: Decision,
): Promise<PreparedCall | undefined> {
  const { config } = state;
  const faults = env.metrics.faults;
  const cap = config.safety.max_active_faults;
  if (cap > 0 && faults.activeCount() >= cap) {
    for (const exp of decision.fired) faults.overflow(exp.name, exp.type);
    return { plan, handler: new Exchange(env, plan, res, undefined) };
  }
  const run = new ChaosRun(env, config, plan, res, decision);
  const exchange = new Exchange(env, plan, res, run);
  const { req } = plan;
  if (decision.fired.some((e) => (e.dialect ?? plan.dialect) === 'mcp') && hasJsonBody(req)) {
    const peek = await readBody(run, config.limits.mcp_peek_bytes);
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
    performAction(run, action);
    if (action.kind === 'respond') exchange.servedByFault(action.status);
    return undefined;
  }
  if (run.sessionAborted) return { plan: withPeek(plan, run.peek), handler: exchange };
  const sent = await rewriteRequestBody(run, withPeek(plan, run.peek), config.limits.max_body_bytes);
  if (run.clientGone) return undefined;
  const responseFaults = decision.fired.filter((e) => e.fault.response);
  return {
    plan: sent,
    handler: responseFaults.length > 0 ? new FaultHandler(exchange, run, responseFaults) : exchange,
  };
}

/** Reads (at most `limit` bytes of) the request body once per request, replayable for the upstream. */
async function readBody(run: ChaosRun, limit: number): Promise<Peek> {
  // A body already peeked (for MCP identity, or by an earlier fault) is reused, complete or not.
  run.peek ??= await peekBody(run.plan.req, limit);
  return run.peek;
}

/** The plan whose body replays what was read, once a fault read the start of the body. */
function withPeek(plan: RequestPlan, peek: Peek | undefined): RequestPlan {
  if (peek === plan.peek || peek === undefined) return plan;
  return Object.freeze({ ...plan, peek, body: bodyAfterPeek(peek, plan.req) });
}

async function rewriteRequestBody(run: ChaosRun, plan: RequestPlan, limit: number): Promise<RequestPlan> {
  const rewriters = run.fired.filter((e) => e.fault.requestBody);
  if (rewriters.length === 0 || plan.body === null) return plan;
  const peek = await readBody(run, limit);
  plan = withPeek(plan, peek);
  if (!peek.complete) {
    for (const exp of rewriters) run.context(exp).skipped('request body over max_body_bytes');
    return plan;
  }
  let body = peek.body;
  for (const exp of rewriters) {
    const out = exp.fault.requestBody!(run.context(exp), body, plan.req.headers);
    if (out) {
      body = out;
      run.record(exp);
    }
  }
  if (body === peek.body) return plan;
  return Object.freeze({ ...plan, body, headers: withContentLength(plan.headers, body.length) });
}

function withContentLength(headers: readonly string[], length: number): string[] {
  const out = [...headers];
  for (let i = 0; i < out.length; i += 2) {
    if (out[i]!.toLowerCase() === 'content-length') {
      out[i + 1] = String(length);
      return out;
    }
  }
  out.push('content-length', String(length));
  return out;
}

/** Carries out a request-phase action that stands in for the upstream, on the client connection. */
function performAction(run: ChaosRun, action: PreAction): void {
  const { res } = run;
  const { req } = run.plan;
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
      dropConnection(req.socket, 'reset');
      return;
    case 'close':
      dropConnection(req.socket, 'close');
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
