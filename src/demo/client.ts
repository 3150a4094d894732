/**
 * How the demo agents talk to their tools through faultgate: one call, classified the way an
 * agent would see it (ok, failed with a status, a cut stream, a dropped connection).
 */
import { type Dispatcher, request } from 'undici';

export interface CallResult {
  ok: boolean;
  status: number;
  /** The Retry-After the answer asked for, in ms (`retry-after-ms`, else `Retry-After` seconds). */
  retryAfterMs?: number;
  /** An SSE answer that ended without `[DONE]`, or a body cut mid-way. */
  cut: boolean;
  text: string;
}

export interface CallSpec {
  method: 'GET' | 'POST';
  path: string;
  body?: unknown;
  /** The answer is a stream that must end with `data: [DONE]`. */
  stream?: boolean;
}

function retryAfter(headers: Record<string, string | string[] | undefined>): number | undefined {
  const ms = Number(headers['retry-after-ms']);
  if (Number.isFinite(ms) && ms >= 0) return ms;
  const s = Number(headers['retry-after']);
  return Number.isFinite(s) && s >= 0 ? s * 1000 : undefined;
}

export class ToolClient {
  constructor(
    private readonly base: string,
    private readonly agent: string,
    private readonly dispatcher: Dispatcher,
  ) {}

  async call(spec: CallSpec): Promise<CallResult> {
    const body = spec.body === undefined ? undefined : JSON.stringify(spec.body);
    const headers: Record<string, string> = { 'x-agent-id': this.agent };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (spec.stream) headers.accept = 'text/event-stream';
    let status = 0;
    try {
      const res = await request(`${this.base}${spec.path}`, {
        method: spec.method,
        headers,
        body,
        dispatcher: this.dispatcher,
      });
      status = res.statusCode;
      const ra = retryAfter(res.headers);
      let text = '';
      let cut = false;
      try {
        text = await res.body.text();
      } catch {
        cut = true; // the connection dropped mid-body: what an agent gets from a reset or a cut stream
      }
      if (spec.stream && status === 200 && !text.includes('data: [DONE]')) cut = true;
      const ok = status >= 200 && status < 300 && !cut && (spec.stream || isJson(text));
      return { ok, status, cut, text, ...(ra !== undefined ? { retryAfterMs: ra } : {}) };
    } catch {
      return { ok: false, status, cut: true, text: '' };
    }
  }
}

function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}
