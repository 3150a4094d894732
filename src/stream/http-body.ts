import type { IncomingHttpHeaders } from 'node:http';
import type { ResponseHead } from '../types.js';

/** The declared body length, when the head has a well-formed `content-length`. */
export function contentLength(headers: IncomingHttpHeaders): number | undefined {
  const value = headers['content-length'];
  return typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : undefined;
}

/** A `content-encoding` other than identity: the bytes on the wire are not the body's text. */
export function isEncoded(headers: IncomingHttpHeaders): boolean {
  const value = headers['content-encoding']?.trim().toLowerCase();
  return value !== undefined && value !== '' && value !== 'identity';
}

/** Whether a response to `method` with `status` carries a body at all (RFC 9110 section 6.4.1). */
export function hasBody(method: string, status: number): boolean {
  return method !== 'HEAD' && status >= 200 && status !== 204 && status !== 304;
}

const EVENT_STREAM = /^\s*text\/event-stream\s*(;|$)/i;

/** True for `text/event-stream` (any case, any parameters): the one test every part uses. */
export function isEventStreamType(contentType: string | string[] | undefined): boolean {
  return typeof contentType === 'string' && EVENT_STREAM.test(contentType);
}

export function isEventStream(headers: IncomingHttpHeaders): boolean {
  return isEventStreamType(headers['content-type']);
}

/** `application/json`, `text/json` and every `+json` type (`application/problem+json`, ...). */
export function isJsonType(contentType: string): boolean {
  return /^\s*(application|text)\/([\w.-]+\+)?json\s*(;|$)/i.test(contentType);
}

/** Framing headers are faultgate's to compute: a rewrite that set them could make the message lie. */
const framing = new Set(['content-length', 'transfer-encoding', 'content-encoding', 'connection']);

/**
 * Sets a configured status and headers on a response head (`replace`, `patch`). A header with an
 * empty value is removed; framing headers in `headers` are ignored. The reason phrase follows the status.
 */
export function applyHead(
  head: ResponseHead,
  status: number | undefined,
  headers: Readonly<Record<string, string>> | undefined,
): void {
  if (status !== undefined && status !== head.status) {
    head.status = status;
    head.statusMessage = undefined;
  }
  for (const [name, value] of Object.entries(headers ?? {})) {
    const key = name.toLowerCase();
    if (framing.has(key)) continue;
    if (value === '') delete head.headers[key];
    else head.headers[key] = value;
  }
}
