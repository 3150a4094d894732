import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { gunzipSync, gzipSync } from 'node:zlib';
import { request } from 'undici';
import { describe, expect, it } from 'vitest';
import { configYaml, scrape, startFaultgate, startUpstream, waitFor } from '../helpers/index.js';
import { metricSum, WireClient } from '../helpers/wire.js';

const JSON_BODY = JSON.stringify({ data: 'x'.repeat(950), list: [1, 2, 3], name: 'naïve' });
const BYTES = Buffer.from(JSON_BODY);
/** The first `fraction` of the JSON body's bytes (it has a two-byte character). */
const prefix = (fraction: number) => BYTES.subarray(0, Math.floor(BYTES.length * fraction)).toString();
const BIG = JSON.stringify({ data: 'y'.repeat(8000) }); // over max_body_bytes (4096)
const TEXT = 'plain text, not json at all';

/** Upstream routes by the last path segment; `chunked` bodies go out in three writes without a length. */
function upstream(req: { url?: string }, res: import('node:http').ServerResponse): void {
  const route = req.url?.split('?')[0]?.split('/').pop();
  const json = { 'content-type': 'application/json' };
  switch (route) {
    case 'chunked': {
      res.writeHead(200, json);
      const third = Math.ceil(JSON_BODY.length / 3);
      res.write(JSON_BODY.slice(0, third));
      setTimeout(() => res.write(JSON_BODY.slice(third, 2 * third)), 10);
      setTimeout(() => res.end(JSON_BODY.slice(2 * third)), 20);
      return;
    }
    case 'gzip': {
      const gz = gzipSync(JSON_BODY);
      res.writeHead(200, { ...json, 'content-encoding': 'gzip', 'content-length': gz.length });
      res.end(gz);
      return;
    }
    case 'big':
      res.writeHead(200, json);
      res.write(BIG.slice(0, 3000));
      res.end(BIG.slice(3000));
      return;
    case 'text':
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': TEXT.length });
      res.end(TEXT);
      return;
    case 'html':
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<p>hi</p>');
      return;
    default:
      res.writeHead(200, { ...json, 'content-length': Buffer.byteLength(JSON_BODY), 'x-up': 'yes' });
      res.end(JSON_BODY);
  }
}

const EXPERIMENTS = `chaos: { header_overrides: true, seed: 11 }
limits: { max_body_bytes: 4096 }
tools:
  - name: rep
    match: { path: "/rep/**" }
  - name: pat
    match: { path: "/pat/**" }
  - name: api
    match: { path: "/**" }
experiments:
  - name: rewrite
    type: replace
    probability: 1
    target: { tools: [rep] }
    config: { status: 503, headers: { x-replaced: "1", x-up: "" }, body: { ok: false, why: "maintenance" } }
  - name: merge
    type: patch
    probability: 1
    target: { tools: [pat] }
    config: { patch: { data: null, list: [9], extra: { deep: true } }, status: 207, headers: { x-patched: "1" } }
`;

async function setup() {
  const up = await startUpstream(upstream);
  return startFaultgate(configYaml({ upstream: up.url }, EXPERIMENTS));
}

interface Raw {
  status?: number;
  headers?: IncomingHttpHeaders;
  body: Buffer;
  error?: string;
  ms: number;
}

/** One node:http request; reports the body bytes that arrived and the error, if the message broke. */
function raw(port: number, path: string, fault?: string): Promise<Raw> {
  const started = Date.now();
  const headers = fault ? { 'x-faultgate-fault': fault } : {};
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const done = (r: Omit<Raw, 'body' | 'ms'>) =>
      resolve({ ...r, body: Buffer.concat(chunks), ms: Date.now() - started });
    const req = httpRequest({ host: '127.0.0.1', port, path, headers, agent: false }, (res) => {
      const head = { status: res.statusCode, headers: res.headers };
      res.on('data', (d: Buffer) => chunks.push(d));
      res.on('end', () => done(head));
      res.on('error', (e: NodeJS.ErrnoException) => done({ ...head, error: e.code ?? e.message }));
    });
    req.on('error', (e: NodeJS.ErrnoException) => done({ error: e.code ?? e.message }));
    req.end();
  });
}

const skippedCount = async (adminUrl: string, fault: string, reason: string) =>
  metricSum(await scrape(adminUrl), 'faultgate_faults_skipped_total', { fault, reason });

describe('truncate', () => {
  it('abort keeps content-length and ends the connection mid-message', async () => {
    const fg = await setup();
    const a = await raw(fg.port, '/v1/json', 'truncate;after_bytes=100');
    expect(a.status).toBe(200);
    expect(a.headers!['content-length']).toBe(String(Buffer.byteLength(JSON_BODY)));
    expect(a.error).toBeDefined();
    expect(a.body.equals(Buffer.from(JSON_BODY).subarray(0, 100))).toBe(true);
    const b = await raw(fg.port, '/v1/json', 'truncate;fraction=0.25');
    expect(b.error).toBeDefined();
    expect(b.body.length).toBe(Math.floor(Buffer.byteLength(JSON_BODY) * 0.25));
    // undici sees the broken message as an error too.
    const u = await request(`${fg.url}/v1/json`, {
      headers: { 'x-faultgate-fault': 'truncate;after_bytes=10' },
    });
    await expect(u.body.text()).rejects.toThrow();
    const m = await scrape(fg.adminUrl);
    expect(metricSum(m, 'faultgate_faults_injected_total', { fault: 'truncate' })).toBe(3);
    expect(metricSum(m, 'faultgate_requests_total', { outcome: 'failure', injected: 'true' })).toBe(3);
  });

  it('abort on a chunked body drops the last chunk, after_bytes or a buffered fraction', async () => {
    const fg = await setup();
    const a = await raw(fg.port, '/v1/chunked', 'truncate;after_bytes=500');
    expect(a.headers!['transfer-encoding']).toBe('chunked');
    expect(a.error).toBeDefined();
    expect(a.body.toString()).toBe(JSON_BODY.slice(0, 500));
    const b = await raw(fg.port, '/v1/chunked', 'truncate;fraction=0.5;mode=abort');
    expect(b.error).toBeDefined();
    expect(b.body.toString()).toBe(prefix(0.5));
  });

  it('clean ends a complete, shorter message with a matching length and keeps the connection', async () => {
    const fg = await setup();
    const client = await WireClient.connect(fg.port);
    const get = (path: string, fault: string) =>
      client.write(`GET ${path} HTTP/1.1\r\nHost: x\r\nx-faultgate-fault: ${fault}\r\n\r\n`);
    get('/v1/json', 'truncate;after_bytes=100;mode=clean');
    const a = await client.readResponse();
    expect(a.headers['content-length']).toBe('100');
    expect(a.body.toString()).toBe(JSON_BODY.slice(0, 100));
    get('/v1/chunked', 'truncate;after_bytes=200;mode=clean'); // same connection: it was left clean
    const b = await client.readResponse();
    expect(b.headers['transfer-encoding']).toBe('chunked');
    expect(b.body.toString()).toBe(JSON_BODY.slice(0, 200));
    // Proof the connection stayed usable: a third request on it is answered.
    get('/v1/json', 'truncate;after_bytes=10;mode=clean');
    expect((await client.readResponse()).body.toString()).toBe(JSON_BODY.slice(0, 10));
    expect(client.closed).toBe(false);
  });

  it('clean cuts the decoded text of a gzip body; a body over max_body_bytes passes whole', async () => {
    const fg = await setup();
    const a = await raw(fg.port, '/v1/gzip', 'truncate;fraction=0.5;mode=clean');
    expect(a.error).toBeUndefined();
    expect(a.headers!['content-encoding']).toBeUndefined();
    expect(a.body.toString()).toBe(prefix(0.5));
    const b = await raw(fg.port, '/v1/big', 'truncate;fraction=0.5');
    expect(b.error).toBeUndefined();
    expect(b.body.toString()).toBe(BIG);
    expect(await skippedCount(fg.adminUrl, 'truncate', 'body over max_body_bytes')).toBe(1);
  });
});

describe('malformed', () => {
  it('json_syntax breaks the JSON at the same length; non-JSON and large bodies pass untouched', async () => {
    const fg = await setup();
    const a = await raw(fg.port, '/v1/json', 'malformed;kind=json_syntax');
    expect(a.headers!['content-length']).toBe(String(a.body.length));
    expect(a.body.length).toBe(Buffer.byteLength(JSON_BODY));
    expect(() => JSON.parse(a.body.toString())).toThrow();
    const gz = await raw(fg.port, '/v1/gzip', 'malformed');
    expect(gz.headers!['content-encoding']).toBeUndefined();
    expect(gz.body.length).toBe(Buffer.byteLength(JSON_BODY));
    expect(() => JSON.parse(gz.body.toString())).toThrow();
    expect((await raw(fg.port, '/v1/text', 'malformed')).body.toString()).toBe(TEXT);
    expect((await raw(fg.port, '/v1/big', 'malformed')).body.toString()).toBe(BIG);
    expect(await skippedCount(fg.adminUrl, 'malformed', 'body is not JSON')).toBe(1);
    expect(await skippedCount(fg.adminUrl, 'malformed', 'body over max_body_bytes')).toBe(1);
  });

  it('garbage sends random bytes of the same length, the same ones for the same seed', async () => {
    const fg = await setup();
    const a = await raw(fg.port, '/v1/json', 'malformed;kind=garbage');
    expect(a.body.length).toBe(Buffer.byteLength(JSON_BODY));
    expect(a.body.equals(Buffer.from(JSON_BODY))).toBe(false);
    const again = await setup();
    expect((await raw(again.port, '/v1/json', 'malformed;kind=garbage')).body.equals(a.body)).toBe(true);
    const gz = await raw(fg.port, '/v1/gzip', 'malformed;kind=garbage');
    expect(gz.headers!['content-encoding']).toBeUndefined();
    expect(gz.body.length).toBe(Buffer.byteLength(JSON_BODY));
  });

  it('wrong_content_type relabels the body; encoding breaks UTF-8 but not the structure', async () => {
    const fg = await setup();
    const a = await raw(fg.port, '/v1/json', 'malformed;kind=wrong_content_type');
    expect(a.headers!['content-type']).toBe('text/html; charset=utf-8');
    expect(a.body.toString()).toBe(JSON_BODY);
    const h = await raw(fg.port, '/v1/html', 'malformed;kind=wrong_content_type');
    expect(h.headers!['content-type']).toBe('application/json');
    const e = await raw(fg.port, '/v1/gzip', 'malformed;kind=encoding');
    const original = Buffer.from(JSON_BODY);
    expect(e.body.length).toBe(original.length);
    expect(() => new TextDecoder('utf-8', { fatal: true }).decode(e.body)).toThrow();
    for (let i = 0; i < original.length; i++)
      if (!/[A-Za-z0-9]/.test(String.fromCharCode(original[i]!))) expect(e.body[i]).toBe(original[i]);
  });
});

describe('bandwidth', () => {
  it('paces the body to bytes_per_s without changing it', async () => {
    const fg = await setup();
    const fast = await raw(fg.port, '/v1/json');
    const slow = await raw(fg.port, '/v1/json', 'bandwidth;bytes_per_s=2000'); // ~1000 bytes: ~0.5 s
    expect(slow.body.equals(fast.body)).toBe(true);
    expect(slow.headers!['content-length']).toBe(String(fast.body.length));
    // A delay is the point: a generous lower bound. That pacing is no slower than the rate is
    // checked on a virtual clock (test/stream/transforms.test.ts), not on this loaded runner.
    expect(slow.ms).toBeGreaterThanOrEqual(350);
    expect(slow.headers!['x-faultgate-injected']).toBe('override/bandwidth');
    expect(fast.headers!['x-faultgate-injected']).toBeUndefined();
  });

  it('a client that leaves mid-body releases the wait at once', async () => {
    const fg = await setup();
    await new Promise<void>((resolve) => {
      const req = httpRequest({
        host: '127.0.0.1',
        port: fg.port,
        path: '/v1/big',
        headers: { 'x-faultgate-fault': 'bandwidth;bytes_per_s=100' }, // ~80 s for the whole body
      });
      req.on('response', (res) => res.once('data', () => req.destroy()));
      req.on('close', resolve);
      req.end();
    });
    await waitFor(() => fg.fg.metrics.faults.activeCount() === 0, 5000, 'throttle released');
  });
});

describe('replace', () => {
  it('rewrites status, headers and body with a matching length', async () => {
    const fg = await setup();
    const a = await raw(fg.port, '/rep/json');
    const body = JSON.stringify({ ok: false, why: 'maintenance' });
    expect(a.status).toBe(503);
    expect(a.headers!['x-replaced']).toBe('1');
    expect(a.headers!['x-up']).toBeUndefined();
    expect(a.headers!['content-type']).toBe('application/json');
    expect(a.headers!['content-length']).toBe(String(body.length));
    expect(a.body.toString()).toBe(body);
    const gz = await raw(fg.port, '/v1/gzip', 'replace;status=418;body=teapot');
    expect(gz.status).toBe(418);
    expect(gz.headers!['content-encoding']).toBeUndefined();
    expect(gz.headers!['content-length']).toBe('6');
    expect(gz.body.toString()).toBe('teapot');
    const only = await raw(fg.port, '/v1/gzip', 'replace;status=500');
    expect(only.status).toBe(500);
    expect(gunzipSync(only.body).toString()).toBe(JSON_BODY);
  });
});

describe('patch', () => {
  it('merges a patch into a JSON object, with status and headers', async () => {
    const fg = await setup();
    const a = await raw(fg.port, '/pat/json');
    expect(a.status).toBe(207);
    expect(a.headers!['x-patched']).toBe('1');
    expect(a.headers!['content-length']).toBeUndefined();
    expect(JSON.parse(a.body.toString())).toEqual({ list: [9], name: 'naïve', extra: { deep: true } });
    expect(a.headers!['x-faultgate-injected']).toBe('merge/patch');
  });

  it('decodes gzip, takes a JSON override, and skips what is not a JSON object', async () => {
    const fg = await setup();
    const gz = await raw(fg.port, '/v1/gzip', 'patch;patch={"data":"short","list":[1,2],"n":1.5}');
    expect(gz.headers!['content-encoding']).toBeUndefined();
    expect(JSON.parse(gz.body.toString())).toEqual({ data: 'short', list: [1, 2], name: 'naïve', n: 1.5 });
    const text = await raw(fg.port, '/v1/text', 'patch;patch={"a":1}');
    expect(text.body.toString()).toBe(TEXT);
    expect(text.headers!['x-faultgate-injected']).toBeUndefined();
    expect((await raw(fg.port, '/v1/big', 'patch;patch={"a":1}')).body.toString()).toBe(BIG);
    expect(await skippedCount(fg.adminUrl, 'patch', 'not a JSON response')).toBe(1);
    expect(await skippedCount(fg.adminUrl, 'patch', 'body over max_body_bytes')).toBe(1);
  });
});
