import { createServer, type Server } from 'node:http';
import { type AddressInfo, connect, type Socket } from 'node:net';
import type { FuzzCase } from './fuzz-cases.js';

/**
 * Runs fuzz cases against a faultgate listener over raw sockets and judges what came back:
 * every case must end in a closed socket within a bound, and every response on it must be
 * either the echo upstream's (marked `x-echo`) or faultgate's own coded error (never a 500).
 */

export interface CaseResult {
  id: number;
  kind: string;
  /** e.g. `400 FAULTGATE_ERR_BAD_REQUEST`, `200 upstream`, `closed`; joined with `+`. */
  outcome: string;
  /** Set when the case broke a rule. */
  problem?: string;
}

/** An upstream that reads the whole request body and answers its path as JSON. */
export async function startEcho(): Promise<{ server: Server; port: number; close(): Promise<void> }> {
  const server = createServer((req, res) => {
    req.on('error', () => res.destroy());
    req.resume();
    req.on('end', () => {
      const body = JSON.stringify({ path: req.url, method: req.method });
      res.writeHead(200, {
        'content-type': 'application/json',
        'x-echo': '1',
        'content-length': Buffer.byteLength(body),
      });
      res.end(body);
    });
  });
  server.keepAliveTimeout = 1000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    server,
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Sends a case and collects every byte until faultgate closes the socket (or `boundMs` passes). */
export async function exchange(
  port: number,
  c: Pick<FuzzCase, 'parts' | 'gapMs' | 'end'>,
  boundMs: number,
): Promise<{ bytes: Buffer; closed: boolean }> {
  const socket: Socket = connect({ port, host: '127.0.0.1' });
  const chunks: Buffer[] = [];
  let closed = false;
  const done = new Promise<void>((r) => {
    socket.on('close', () => {
      closed = true;
      r();
    });
  });
  socket.on('data', (d: Buffer) => chunks.push(d));
  socket.on('error', () => {});
  await new Promise<void>((r) => {
    socket.once('connect', r);
    socket.once('error', r);
  });
  for (const part of c.parts) {
    if (closed || socket.destroyed) break;
    socket.write(part);
    if (c.gapMs > 0) await Promise.race([sleep(c.gapMs), done]);
  }
  if (c.end && !socket.destroyed) socket.end();
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([done, new Promise<void>((r) => (timer = setTimeout(r, boundMs)))]);
  clearTimeout(timer);
  socket.destroy();
  return { bytes: Buffer.concat(chunks), closed };
}

export interface Parsed {
  status: number;
  echo: boolean;
  code: string | undefined;
  path: string | undefined;
}

/** Splits the bytes into responses; `tunnel` once a CONNECT was established (the rest is opaque). */
export function parseResponses(buf: Buffer): { responses: Parsed[]; tunnel: boolean; partial: boolean } {
  const responses: Parsed[] = [];
  let at = 0;
  while (at < buf.length) {
    const end = buf.indexOf('\r\n\r\n', at);
    if (end === -1) return { responses, tunnel: false, partial: true };
    const [line = '', ...fields] = buf.toString('latin1', at, end).split('\r\n');
    const m = /^HTTP\/1\.[01] (\d{3})( |$)/.exec(line);
    if (!m) throw new Error(`garbled status line ${JSON.stringify(line.slice(0, 80))}`);
    const headers = new Map<string, string>();
    for (const f of fields) {
      const colon = f.indexOf(':');
      if (colon > 0) headers.set(f.slice(0, colon).trim().toLowerCase(), f.slice(colon + 1).trim());
    }
    const status = Number(m[1]);
    at = end + 4;
    if (/^HTTP\/1\.1 200 Connection Established/i.test(line)) {
      responses.push({ status, echo: false, code: 'CONNECT', path: undefined });
      return { responses, tunnel: true, partial: false };
    }
    let body: Buffer;
    const length = headers.get('content-length');
    if (status < 200 || status === 204 || status === 304) body = Buffer.alloc(0);
    else if (length !== undefined) {
      if (at + Number(length) > buf.length) return { responses, tunnel: false, partial: true };
      body = buf.subarray(at, at + Number(length));
      at += Number(length);
    } else if (headers.get('transfer-encoding')?.includes('chunked')) {
      const chunks: Buffer[] = [];
      for (;;) {
        const eol = buf.indexOf('\r\n', at);
        if (eol === -1) return { responses, tunnel: false, partial: true };
        const size = Number.parseInt(buf.toString('latin1', at, eol), 16);
        at = eol + 2;
        if (size === 0) {
          at += 2;
          break;
        }
        chunks.push(buf.subarray(at, at + size));
        at += size + 2;
      }
      body = Buffer.concat(chunks);
    } else {
      body = buf.subarray(at);
      at = buf.length;
    }
    responses.push(describe(status, headers, body));
  }
  return { responses, tunnel: false, partial: false };
}

function describe(status: number, headers: Map<string, string>, body: Buffer): Parsed {
  if (headers.get('x-echo') === '1') {
    const { path } = JSON.parse(body.toString('utf8')) as { path: string };
    return { status, echo: true, code: undefined, path };
  }
  let code: string | undefined;
  try {
    code = (JSON.parse(body.toString('utf8')) as { error?: { code?: string } }).error?.code;
  } catch {
    code = undefined;
  }
  return { status, echo: false, code, path: undefined };
}

/** `a+a+a+b` -> `3×a+b`: pipelined answers read as a count. */
function collapse(labels: readonly string[]): string {
  const out: string[] = [];
  for (let i = 0; i < labels.length; ) {
    let j = i;
    while (j < labels.length && labels[j] === labels[i]) j++;
    out.push(j - i > 1 ? `${j - i}×${labels[i]}` : labels[i]!);
    i = j;
  }
  return out.join('+');
}

/** Runs one case and judges it. */
export async function runCase(port: number, c: FuzzCase, boundMs: number): Promise<CaseResult> {
  const { bytes, closed } = await exchange(port, c, boundMs);
  const result: CaseResult = { id: c.id, kind: c.kind, outcome: 'closed' };
  let parsed: ReturnType<typeof parseResponses>;
  try {
    parsed = parseResponses(bytes);
  } catch (err) {
    return { ...result, problem: (err as Error).message };
  }
  const labels = parsed.responses.map((r) =>
    r.echo
      ? `${r.status} upstream`
      : r.code === 'CONNECT'
        ? '200 tunnel'
        : `${r.status} ${r.code ?? 'uncoded'}`,
  );
  result.outcome = labels.length > 0 ? collapse(labels) : 'closed';
  if (!closed) return { ...result, problem: `socket still open after ${boundMs} ms` };
  if (parsed.partial) return { ...result, problem: 'response cut short' };
  for (const r of parsed.responses) {
    if (r.echo || r.code === 'CONNECT') continue;
    if (!r.code?.startsWith('FAULTGATE_ERR_'))
      return { ...result, problem: `status ${r.status} without a code` };
    if (r.status >= 500 && r.code !== 'FAULTGATE_ERR_UPSTREAM_CONNECT')
      return { ...result, problem: `${r.status} ${r.code}` };
  }
  if (c.paths) {
    const got = parsed.responses.filter((r) => r.echo).map((r) => r.path);
    if (got.join(',') !== c.paths.join(','))
      return { ...result, problem: `pipelined answers ${got.join(',')}` };
  }
  return result;
}

/** Runs cases `concurrency` at a time; results in case order. */
export async function runCases(
  port: number,
  cases: readonly FuzzCase[],
  concurrency: number,
  boundMs: number,
): Promise<CaseResult[]> {
  const results: CaseResult[] = new Array(cases.length);
  let next = 0;
  const worker = async () => {
    while (next < cases.length) {
      const i = next++;
      results[i] = await runCase(port, cases[i]!, boundMs);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return results;
}

/** Counts outcomes per kind: `{kind: {outcome: n}}`, for the reliability matrix. */
export function summarise(results: readonly CaseResult[]): Record<string, Record<string, number>> {
  const out: Record<string, Record<string, number>> = {};
  for (const r of results) {
    out[r.kind] ??= {};
    const k = out[r.kind]!;
    k[r.outcome] = (k[r.outcome] ?? 0) + 1;
  }
  return out;
}
