import type { IncomingHttpHeaders } from 'node:http';

/** Reads the trace id of a request from its headers; undefined when it carries none. */
export type TraceReader = (headers: IncomingHttpHeaders) => string | undefined;

const MAX_TRACE_CHARS = 128;
const ZERO_TRACE = '0'.repeat(32);

/**
 * The trace id of a W3C `traceparent` (`00-<32 hex trace id>-<16 hex span>-<2 hex flags>`): the
 * span changes per call, the trace id stays for the whole agent run. Malformed: no trace.
 */
function fromTraceparent(value: string): string | undefined {
  if (value.length < 55 || value.charCodeAt(2) !== 45 || value.charCodeAt(35) !== 45) return undefined;
  const id = value.slice(3, 35).toLowerCase();
  return /^[0-9a-f]{32}$/.test(id) && id !== ZERO_TRACE ? id : undefined;
}

/**
 * A reader for `trace.from` (header sources, first that yields a value wins): `traceparent` is
 * parsed as W3C trace context, any other header's value is the trace id as it is (bounded).
 * Built once per config load; called only for requests that get faults or meet a
 * `single_trace` session, so the no-fault path pays nothing.
 */
export function traceReader(from: readonly string[]): TraceReader {
  const names = from.map((s) => s.slice('header:'.length).toLowerCase());
  return (headers) => {
    for (const name of names) {
      const raw = headers[name];
      const value = (Array.isArray(raw) ? raw[0] : raw)?.trim();
      if (!value) continue;
      const id = name === 'traceparent' ? fromTraceparent(value) : value.slice(0, MAX_TRACE_CHARS);
      if (id) return id;
    }
    return undefined;
  };
}
