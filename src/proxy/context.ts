/**
 * The types the proxy's files share: the instance (`ProxyEnv`), what one config load compiles
 * (`ProxyState`), and the values one request's flow hands from step to step (`Identity`,
 * `RequestPlan`). A leaf: it imports no other proxy file, so no proxy file has to import
 * another one only for its types, which is how import circles start.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import type { ProxyServer } from 'http-proxy-3';
import type { Agent } from 'undici';
import type { ChaosEngine } from '../chaos/engine.js';
import type { Config } from '../config/schema.js';
import type { Dialect } from '../types.js';
import type { CompiledTool, IdentityResolver } from '../identity/index.js';
import type { Logger } from '../observe/logger.js';
import type { Metrics } from '../observe/metrics.js';
import type { OutcomeSink } from '../observe/outcome.js';

/** A parsed upstream URL: where undici connects and what prefixes the request path. */
export interface UpstreamTarget {
  origin: string;
  host: string;
  basePath: string;
  protocol: 'http:' | 'https:';
}

/**
 * Everything compiled from one config load that the data path reads. A request takes it once,
 * at its start, and keeps it to its end: a reload never changes a request in flight.
 */
export interface ProxyState {
  config: Config;
  identity: IdentityResolver;
  /** Parallel to `config.tools`: each tool's own upstream, if it has one. */
  toolTargets: readonly (UpstreamTarget | undefined)[];
  engine: ChaosEngine;
}

/** The faultgate instance as its listeners see it: shared by every listener and every request. */
export interface ProxyEnv {
  /** The state of the latest config load (a new connection's requests start from it). */
  state(): ProxyState;
  agent: Agent;
  metrics: Metrics;
  logger: Logger;
  /** Carries WebSocket upgrades (http-proxy-3). */
  ws: ProxyServer;
  nextRequestId(): number;
  /** Sockets taken over by CONNECT or an upgrade, which the HTTP server no longer tracks. */
  tunnels: Set<Socket>;
  /** The recovery tracker, when tracking is on. */
  outcomes?: OutcomeSink | undefined;
  /** Aborted when the instance shuts down: faults in flight are released (waits end, hangs close). */
  shutdown?: AbortSignal;
  /** limits.max_connections / max_inflight (limits.ts). */
  overload?: OverloadGate;
}

/** Admission of client connections and requests under `limits` (implemented in limits.ts). */
export interface OverloadGate {
  /** Applies `limits.max_connections` to a listener's server (again after a reload). */
  watch(server: Server, maxConnections: number): void;
  /** False when `limits.max_inflight` is reached: the request was answered 503 already. */
  admit(res: ServerResponse): boolean;
}

/** The start of a request body, read once (MCP identity, body faults) and replayed to the upstream. */
export interface Peek {
  chunks: Buffer[];
  /** The whole body when `complete`; empty otherwise. */
  body: Buffer;
  /** The body ended within the limit. */
  complete: boolean;
}

/** Who sent a request and what it calls: the result of the identify step. */
export interface Identity {
  readonly agent: string;
  readonly tenant: string;
  /** The matched tool; undefined for `unmatched`. */
  readonly tool: CompiledTool | undefined;
  /** The client address as identity saw it (also the X-Forwarded-For entry faultgate adds). */
  readonly clientIp: string;
  /** The body start, when an MCP matcher needed it to decide. */
  readonly peek: Peek | undefined;
}

/**
 * Everything the upstream call needs, decided once (the plan step) and frozen. A request fault
 * that rewrites the body makes a new plan; nothing changes a plan in place.
 */
export interface RequestPlan {
  readonly requestId: number;
  /** performance.now() when the request arrived. */
  readonly startedAt: number;
  readonly req: IncomingMessage;
  /** Labels of metrics, logs and outcomes. */
  readonly agent: string;
  readonly tenant: string;
  readonly tool: string;
  /** The tool's error dialect (faults use it unless they name their own). */
  readonly dialect: Dialect;
  readonly target: UpstreamTarget;
  /** Upstream path: the target's base path and the request's path with its query. */
  readonly path: string;
  /** Flat [name, value, ...] upstream request headers. */
  readonly headers: readonly string[];
  /** The request itself (streamed), the replayed peek, a buffered body, or none. */
  readonly body: Readable | Buffer | null;
  /** Identifies the body for retry detection (ExchangeOutcome.bodyKey); '' when tracking is off. */
  readonly bodyKey: string;
  readonly peek: Peek | undefined;
}
