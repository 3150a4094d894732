import { createHash } from 'node:crypto';
import { bufferedRewrite, parseJson } from '../../stream/buffered.js';
import type { Json } from './json-walk.js';
import type { FaultContext, ResponseEffect, ResponseHead } from '../types.js';
import { isEventStream } from '../../stream/http-body.js';

export interface HistoryLimits {
  /** Request keys remembered; the least recently used goes first. */
  maxKeys: number;
  /** Distinct bodies remembered per key; the oldest goes first. */
  perKey: number;
  /** Bytes held in all; a body over a quarter of this is not remembered. */
  maxBytes: number;
}

export const defaultHistoryLimits: HistoryLimits = { maxKeys: 256, perKey: 4, maxBytes: 16 * 1024 * 1024 };

/** Pending request-body hashes are dropped beyond this (their responses never came). */
const MAX_PENDING = 4096;

/** A hash of a request body; a JSON-RPC body is hashed without its `id`, which changes every call. */
export function bodyHash(body: Buffer): string {
  let bytes: Buffer | string = body;
  if (body[0] === 0x7b) {
    const json = parseJson(body);
    if (json && typeof json === 'object' && 'jsonrpc' in json && 'id' in json) {
      bytes = JSON.stringify({ ...json, id: null });
    }
  }
  return createHash('sha256').update(bytes).digest('base64url');
}

/**
 * Earlier responses per request key (method + path + request-body hash), bounded in keys, bodies
 * per key and bytes, for `outdated` and `stale`. One per fault instance: a reload starts empty.
 */
export class ResponseHistory {
  private readonly byKey = new Map<string, Buffer[]>();
  private readonly pending = new Map<number, string>();
  private held = 0;

  constructor(private readonly limits: HistoryLimits = defaultHistoryLimits) {}

  /** Bytes held, for tests and bounds. */
  get bytes(): number {
    return this.held;
  }

  get keys(): number {
    return this.byKey.size;
  }

  /**
   * The requestBody hook: notes the body's hash for the response of the same request. It never
   * changes the body (returns undefined); a request without a body is never seen here.
   */
  observe(ctx: FaultContext, body: Buffer): undefined {
    if (this.pending.size >= MAX_PENDING) this.pending.delete(this.pending.keys().next().value!);
    this.pending.set(ctx.requestId, bodyHash(body));
    ctx.signal.addEventListener('abort', () => this.pending.delete(ctx.requestId), { once: true });
    return undefined;
  }

  /** The key of the request `ctx` belongs to (consumes the noted body hash). */
  keyFor(ctx: FaultContext): string {
    const hash = this.pending.get(ctx.requestId) ?? '';
    this.pending.delete(ctx.requestId);
    return `${ctx.method} ${ctx.path} ${hash}`;
  }

  remember(key: string, body: Buffer): void {
    if (body.length > this.limits.maxBytes / 4) return;
    const list = this.byKey.get(key) ?? [];
    this.byKey.delete(key); // re-inserted last: most recently used
    this.byKey.set(key, list);
    if (list.some((b) => b.equals(body))) return;
    list.push(Buffer.from(body));
    this.held += body.length;
    while (list.length > this.limits.perKey) this.held -= list.shift()!.length;
    for (const [k, bodies] of this.byKey) {
      if (this.byKey.size <= this.limits.maxKeys && this.held <= this.limits.maxBytes) break;
      if (k === key) break; // the key just used is the newest: everything older is gone
      this.byKey.delete(k);
      for (const b of bodies) this.held -= b.length;
    }
  }

  /** The oldest remembered body for `key` that differs from `current`: the most outdated one. */
  earlier(key: string, current: Buffer): Buffer | undefined {
    return this.byKey.get(key)?.find((b) => !b.equals(current));
  }
}

/**
 * A replayed JSON-RPC response keeps the current response's `id`: a client would reject a
 * mismatched id as a protocol error, which is another fault than stale data.
 */
export function withCurrentRpcId(earlier: Json, current: Json): Json {
  const isRpc = (v: Json): v is { [k: string]: Json } =>
    typeof v === 'object' && v !== null && !Array.isArray(v) && 'jsonrpc' in v;
  return isRpc(earlier) && isRpc(current) && 'id' in current ? { ...earlier, id: current.id! } : earlier;
}

/**
 * Rewrites a body, or returns undefined to pass it through untouched (the rewrite reports why
 * with ctx.skipped). `earlier` is a different earlier response to the same request, if any.
 */
export type BodyRewrite = (body: Buffer, earlier: Buffer | undefined) => Buffer | string | undefined;

/**
 * The response side shared by the data faults: only a 2xx body that is not an event stream is
 * buffered (at most max_body_bytes, decoded first) and rewritten; with a history, the original
 * body is remembered for later `outdated`/`stale` replays of the same request.
 */
export function dataResponse(
  ctx: FaultContext,
  head: ResponseHead,
  history: ResponseHistory | undefined,
  rewrite: BodyRewrite,
): ResponseEffect | undefined {
  const key = history?.keyFor(ctx);
  const { status } = head;
  if (status < 200 || status >= 300 || status === 204 || status === 205 || ctx.method === 'HEAD') {
    ctx.skipped('no 2xx response body');
    return undefined;
  }
  if (isEventStream(head.headers)) {
    ctx.skipped('event stream');
    return undefined;
  }
  const stream = bufferedRewrite(
    ctx.maxBodyBytes,
    (body) => {
      const earlier = key === undefined ? undefined : history!.earlier(key, body);
      let out: Buffer | string | undefined;
      try {
        out = rewrite(body, earlier);
      } catch {
        // A document the walk cannot handle (nesting deeper than the stack) passes through.
        ctx.skipped('rewrite failed');
      }
      if (key !== undefined) history!.remember(key, body);
      return out ?? body;
    },
    (reason) => ctx.skipped(reason),
  );
  return { stream, needsDecoded: true };
}
