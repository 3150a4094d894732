import type { IncomingHttpHeaders } from 'node:http';
import type { Transform } from 'node:stream';
import type { Dialect, ResponseHead, Rng } from '../types.js';

// The shared leaf types a fault's hooks see, so a fault imports its whole API from this file.
export type { Dialect, ResponseHead, Rng };

/** What a fault may know and do while it runs; the engine owns everything else. */
export interface FaultContext {
  readonly rng: Rng;
  readonly requestId: number;
  readonly agent: string;
  readonly tenant: string;
  readonly tool: string;
  readonly experiment: string;
  /** Error-body dialect: the fault's `format`, else the tool's. */
  readonly dialect: Dialect;
  readonly method: string;
  /** Path with the query string. */
  readonly path: string;
  readonly requestHeaders: IncomingHttpHeaders;
  /** JSON-RPC id of the request when it was read (MCP), for dialect errors that echo it. */
  readonly jsonRpcId: string | number | null | undefined;
  readonly maxBodyBytes: number;
  /** Aborted when the client leaves or the chaos session is aborted. */
  readonly signal: AbortSignal;
  /** Waits `ms`; resolves early with false when `signal` aborts. Timers never outlive the request. */
  sleep(ms: number): Promise<boolean>;
  /** A transform passed a body through untouched (too large, undecodable): counted with the reason. */
  skipped(reason: string): void;
  /** Ends the client connection mid-response: `reset` sends a TCP RST, `close` a FIN. */
  cutConnection(how: 'reset' | 'close'): void;
  now(): number;
}

/**
 * What a request-phase fault did. `continue`: it acted (a delay) and the request goes on; the
 * others answer instead of the upstream. A hook that did nothing returns undefined.
 */
export type PreAction =
  | { kind: 'continue' }
  | { kind: 'respond'; status: number; headers: Record<string, string>; body: string | Buffer }
  | { kind: 'reset' }
  | { kind: 'close' }
  | { kind: 'hang' };

/**
 * What a response fault did: a body transform and/or (an empty object) a change to the head.
 * `passive` effects only observe (budget counting usage) and do not count as injected.
 */
export interface ResponseEffect {
  stream?: Transform;
  /** The transform never changes the body length, so `content-length` may stay. */
  keepsLength?: boolean;
  /** The transform reads the body: a compressed body is decoded first (or skipped if it cannot be). */
  needsDecoded?: boolean;
  passive?: boolean;
  /**
   * The client receives a broken answer even if the bytes end cleanly (a clean truncation, a
   * malformed body, a stream without its end): SPEC section 5 counts the exchange as a failure.
   */
  failure?: boolean;
}

/**
 * One fault type's runtime: the decision engine decides *whether* it fires; the fault decides
 * only *how*. Every hook is optional; state that must live across requests (buckets, counters)
 * belongs to the instance, which is created once per experiment per config load.
 */
export interface Fault {
  /** Before the upstream is called: answer, or wait and return undefined to go on. */
  request?(ctx: FaultContext): PreAction | undefined | Promise<PreAction | undefined>;
  /** Rewrites a buffered JSON/text request body (at most max_body_bytes); undefined = unchanged. */
  requestBody?(ctx: FaultContext, body: Buffer, headers: IncomingHttpHeaders): Buffer | undefined;
  /** After the upstream's head arrived: change the head, and/or return a body transform. */
  response?(
    ctx: FaultContext,
    head: ResponseHead,
  ): ResponseEffect | undefined | Promise<ResponseEffect | undefined>;
  /**
   * Not a coin: the fault sees every targeted request and decides itself whether to act
   * (a quota's token bucket, a budget's counters). Probability does not apply.
   */
  readonly selfDecides?: boolean;
}
