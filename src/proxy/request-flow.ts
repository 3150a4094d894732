/**
 * One HTTP request through faultgate, top to bottom, as SPEC sections 3 to 5 tell it:
 * route -> identify -> plan -> decide -> exchange -> dispatch. Each step returns a value and
 * nothing changes it afterwards. A listener makes one RequestFlow per routing (per config
 * load): a request runs on the flow that was current when it arrived, to its end.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Dispatcher } from 'undici';
import { sendError } from '../errors.js';
import {
  type CompiledTool,
  type McpFacts,
  mcpFromBody,
  mcpFromHeaders,
  NEEDS_BODY,
  normalizeAddress,
  proxyUserFrom,
  type RequestFacts,
  UNMATCHED,
} from '../identity/index.js';
import type { Identity, ProxyEnv, RequestPlan } from './context.js';
import { Exchange } from './exchange.js';
import { upstreamRequestHeaders } from './headers.js';
import { bodyAfterPeek, bodyKeyOf, hasJsonBody, peekBody, requestHasBody } from './request-body.js';
import { prepareFaultedCall } from './request-faults.js';
import { type ListenerRouting, pathOnly, type UpstreamRoute } from './route.js';

/** The request flow of one listener for one config load. */
export class RequestFlow {
  constructor(
    private readonly env: ProxyEnv,
    readonly routing: ListenerRouting,
  ) {}

  /** Route and identify; the rest follows once the identity is known (after an MCP body peek). */
  serve(req: IncomingMessage, res: ServerResponse): void {
    const startedAt = performance.now();
    const route = this.routing.router.route(req);
    if (route.mode === 'denied') {
      sendError(res, route.code, route.detail);
      return;
    }
    const who = this.identify(req, route);
    if (who instanceof Promise) {
      who.then(
        (known) => this.serveIdentified(req, res, route, known, startedAt),
        () => res.destroy(), // the client left while its body was read
      );
      return;
    }
    this.serveIdentified(req, res, route, who, startedAt);
  }

  /** Plan, decide, exchange, dispatch. */
  private serveIdentified(
    req: IncomingMessage,
    res: ServerResponse,
    route: UpstreamRoute,
    who: Identity,
    startedAt: number,
  ): void {
    const { env } = this;
    const plan = this.plan(req, route, who, startedAt);
    if (!plan) {
      const tool = who.tool?.name ?? UNMATCHED;
      env.metrics.exchange(who.agent, tool).failure.inc();
      const detail = `no upstream for ${req.method} ${route.path}: the tool "${tool}" and listener "${this.routing.config.name}" have none`;
      sendError(res, 'FAULTGATE_ERR_NO_UPSTREAM', detail);
      return;
    }
    const { state } = this.routing;
    const override = state.config.chaos.header_overrides ? req.headers['x-faultgate-fault'] : undefined;
    // Only a request with an override needs its retry key (`times=` counts per retry).
    const retry =
      override === undefined
        ? undefined
        : {
            method: req.method ?? '',
            path: plan.path,
            bodyKey: plan.bodyKey || (req.headers['content-length'] ?? ''),
          };
    const verdict = state.engine.decide(plan.agent, plan.tenant, plan.tool, override, req.headers, retry);
    switch (verdict.kind) {
      case 'pass':
        dispatch(env, plan, new Exchange(env, plan, res, undefined));
        return;
      case 'refuse':
        req.resume();
        sendError(res, verdict.code, verdict.message);
        return;
      case 'faults':
        prepareFaultedCall(env, state, plan, res, verdict).then(
          (call) => call && dispatch(env, call.plan, call.handler),
          (err: Error) => {
            env.logger.error({ reqId: plan.requestId, err: err.message }, 'chaos run failed');
            sendError(res, 'FAULTGATE_ERR_INTERNAL', 'fault injection failed');
          },
        );
    }
  }

  /**
   * Who sends the request and which tool it calls. An MCP matcher that needs the JSON-RPC body
   * reads it here, once (bounded by `limits.mcp_peek_bytes`); the identity then carries the peek.
   */
  private identify(req: IncomingMessage, route: UpstreamRoute): Identity | Promise<Identity> {
    const { routing } = this;
    const facts: RequestFacts = {
      method: req.method ?? 'GET',
      hostname: route.hostname,
      port: route.port,
      path: pathOnly(route.path),
      headers: req.headers,
    };
    const index = route.mode === 'reverse' ? routing.reverseIndex : routing.forwardIndex;
    const tool = index.match(facts, mcpFromHeaders(req.headers), hasJsonBody(req));
    if (tool !== NEEDS_BODY) return this.identity(req, route, tool, undefined);
    return peekBody(req, routing.state.config.limits.mcp_peek_bytes).then((peek) => {
      const mcp: McpFacts = peek.complete ? mcpFromBody(peek.body) : NO_MCP;
      const known = index.match(facts, mcp, false);
      return this.identity(req, route, known === NEEDS_BODY ? undefined : known, peek);
    });
  }

  private identity(
    req: IncomingMessage,
    route: UpstreamRoute,
    tool: CompiledTool | undefined,
    peek: Identity['peek'],
  ): Identity {
    const proxyAuth =
      route.mode === 'forward' ? route.proxyAuthorization : req.headers['proxy-authorization'];
    const peer = {
      headers: req.headers,
      proxyUser: proxyUserFrom(proxyAuth),
      remoteAddress: normalizeAddress(req.socket.remoteAddress),
    };
    const resolver = this.routing.state.identity;
    return {
      agent: resolver.agent(peer),
      tenant: resolver.tenant(peer),
      tool,
      clientIp: peer.remoteAddress,
      peek,
    };
  }

  /** Where and what to send upstream, frozen; undefined when neither the tool nor the listener has an upstream. */
  private plan(
    req: IncomingMessage,
    route: UpstreamRoute,
    who: Identity,
    startedAt: number,
  ): RequestPlan | undefined {
    const { env, routing } = this;
    const { tool, peek } = who;
    const target =
      route.mode === 'forward'
        ? route.target
        : ((tool && routing.state.toolTargets[tool.index]) ?? routing.router.upstream);
    if (!target) return undefined;
    const headers = upstreamRequestHeaders(
      req.rawHeaders,
      req.headers,
      // Reverse and absolute-form requests name the target (RFC 9112 3.2.2); inside a tunnel the client's Host stands.
      route.mode === 'forward' && route.tunnel ? (req.headers.host ?? target.host) : target.host,
      route.mode === 'reverse'
        ? { clientIp: who.clientIp, proto: 'http', host: req.headers.host }
        : undefined,
    );
    return Object.freeze({
      requestId: env.nextRequestId(),
      startedAt,
      req,
      agent: who.agent,
      tenant: who.tenant,
      tool: tool ? tool.name : UNMATCHED,
      dialect: tool?.config.format ?? 'json',
      target,
      path: target.basePath + route.path,
      headers,
      body: peek ? bodyAfterPeek(peek, req) : requestHasBody(req) ? req : null,
      // Only the recovery tracker reads it: no hashing when tracking is off.
      bodyKey: env.outcomes ? bodyKeyOf(req, peek) : '',
      peek,
    });
  }
}

const NO_MCP: McpFacts = Object.freeze({ method: undefined, tool: undefined });

/** Hands the planned call to the upstream agent; `handler` gets the response. */
function dispatch(env: ProxyEnv, plan: RequestPlan, handler: Dispatcher.DispatchHandler): void {
  env.agent.dispatch(
    {
      origin: plan.target.origin,
      path: plan.path,
      method: plan.req.method as Dispatcher.HttpMethod,
      headers: plan.headers as string[],
      body: plan.body,
    },
    handler,
  );
}
