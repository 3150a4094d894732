import { createServer as createHttpsServer } from 'node:https';
import { type AddressInfo, connect, createServer, type Socket } from 'node:net';
import { Agent, request } from 'undici';
import { afterAll, describe, expect, it, onTestFinished } from 'vitest';
import {
  configYaml,
  scrape,
  startFaultgate,
  startUpstream,
  type TestFaultgate,
  waitFor,
} from '../helpers/index.js';
import { type MatrixRow, writeMatrix } from '../helpers/matrix.js';
import { testPki } from '../helpers/tls.js';
import { metricSum } from '../helpers/wire.js';

/**
 * Hostile and broken upstreams. Each behaviour is picked by the request path; every broken one
 * must end in a coded 502/504 (or, once the response started, a broken body), be counted as a
 * real (not injected) upstream failure in metrics and the tracker, and never outlive
 * `upstream.response_timeout_ms` (1 s here).
 */

const RESPONSE_TIMEOUT_MS = 1000;

type Behaviour = (socket: Socket) => void;

/** Upstream sockets serving a response that never ends. */
const endless = new Set<Socket>();

const ok = (s: Socket) => s.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');

const BEHAVIOURS: Record<string, Behaviour> = {
  ok,
  'bad-status': (s) => s.write('HTTP/1.1 abc OK\r\ncontent-length: 0\r\n\r\n'),
  'not-http': (s) => s.write('SSH-2.0-OpenSSH_9.6\r\n\r\n'),
  'cl-longer': (s) => s.end('HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nshort'),
  // A second response hidden behind a short Content-Length: it must never answer a later request.
  'cl-shorter': (s) =>
    s.write(
      'HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nokHTTP/1.1 200 OK\r\ncontent-length: 8\r\n\r\nsmuggled',
    ),
  'bad-chunk': (s) => s.write('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\nzz\r\n'),
  'early-close': (s) => s.destroy(),
  'close-mid-head': (s) => s.end('HTTP/1.1 200 OK\r\ncontent-le'),
  '1xx-then-200': (s) => {
    s.write('HTTP/1.1 102 Processing\r\n\r\n'.repeat(500));
    ok(s);
  },
  '1xx-forever': (s) => {
    const timer = setInterval(() => s.write('HTTP/1.1 102 Processing\r\n\r\n'), 20);
    s.on('close', () => clearInterval(timer));
  },
  'huge-headers': (s) =>
    s.write(`HTTP/1.1 200 OK\r\nx-big: ${'b'.repeat(200_000)}\r\ncontent-length: 0\r\n\r\n`),
  silent: () => {},
  endless: (s) => {
    endless.add(s);
    s.write('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n');
    const timer = setInterval(() => s.write('1\r\nx\r\n'), 20);
    s.on('close', () => clearInterval(timer));
  },
  'headers-then-silence': (s) => s.write('HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nab'),
};

/** A TCP upstream acting out `BEHAVIOURS[path]` on each request head it reads. */
async function startHostile(): Promise<{ port: number; open: Set<Socket> }> {
  const open = new Set<Socket>();
  const server = createServer((socket) => {
    open.add(socket);
    socket.on('close', () => open.delete(socket));
    socket.on('error', () => {});
    let buf = '';
    socket.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      for (let end = buf.indexOf('\r\n\r\n'); end !== -1; end = buf.indexOf('\r\n\r\n')) {
        const path = /^\w+ \/case\/([^ ]+) /.exec(buf)?.[1] ?? 'ok';
        buf = buf.slice(end + 4);
        (BEHAVIOURS[path] ?? ok)(socket);
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  onTestFinished(async () => {
    for (const s of open) s.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  });
  return { port: (server.address() as AddressInfo).port, open };
}

interface Seen {
  status: number;
  code: string | undefined;
  body: string;
  broken: boolean;
}

async function get(url: string, dispatcher: Agent): Promise<Seen> {
  const res = await request(url, { dispatcher, headers: { 'x-agent-id': 'hostile-test' } });
  let body = '';
  let broken = false;
  try {
    body = await res.body.text();
  } catch {
    broken = true;
  }
  const code = res.headers['x-faultgate-error'];
  return { status: res.statusCode, code: typeof code === 'string' ? code : undefined, body, broken };
}

const rows: MatrixRow[] = [];
afterAll(() => {
  if (rows.length > 0) writeMatrix('hostile-upstreams', 'Hostile and broken upstreams', rows);
});

async function failureCounts(fg: TestFaultgate, tool: string) {
  const m = await scrape(fg.adminUrl);
  return {
    upstream: metricSum(m, 'faultgate_upstream_errors_total', { tool }),
    failures: metricSum(m, 'faultgate_requests_total', { tool, outcome: 'failure', injected: 'false' }),
  };
}

describe('hostile and broken upstreams', () => {
  it('every broken answer is a coded 502/504 or a broken body, counted as a real upstream failure, within the timeouts', async () => {
    const hostile = await startHostile();
    const pki = await testPki();
    const tls = await startUpstream(
      (_req, res) => res.end('secret'),
      createHttpsServer({ cert: pki.serverCert, key: pki.serverKey }),
    );
    const fg = await startFaultgate(
      configYaml(
        { upstream: `http://127.0.0.1:${hostile.port}` },
        `upstream: { response_timeout_ms: ${RESPONSE_TIMEOUT_MS}, connect_timeout_ms: 1000 }
tools:
  - { name: untrusted-tls, match: { path: "/tls/**" }, upstream: "${tls.url}" }
  - { name: refused, match: { path: "/refused/**" }, upstream: "http://127.0.0.1:1" }
  - { name: hostile, match: { path: "/case/**" } }
`,
      ),
    );
    const client = new Agent();
    onTestFinished(() => client.destroy());

    const expectations: [string, string, (s: Seen) => boolean, string][] = [
      [
        '/case/bad-status',
        'hostile',
        (s) => s.status === 502 && s.code === 'FAULTGATE_ERR_UPSTREAM',
        'invalid status line',
      ],
      [
        '/case/not-http',
        'hostile',
        (s) => s.status === 502 && s.code === 'FAULTGATE_ERR_UPSTREAM',
        'not HTTP at all',
      ],
      [
        '/case/cl-longer',
        'hostile',
        (s) => s.status === 200 && s.broken,
        'Content-Length longer than the body, then close',
      ],
      ['/case/bad-chunk', 'hostile', (s) => s.status === 200 && s.broken, 'invalid chunk size mid-body'],
      [
        '/case/early-close',
        'hostile',
        (s) => s.status === 502 && s.code === 'FAULTGATE_ERR_UPSTREAM_RESET',
        'closes without answering',
      ],
      [
        '/case/close-mid-head',
        'hostile',
        (s) => s.status === 502 && s.code !== undefined,
        'closes in the middle of the head',
      ],
      [
        '/case/1xx-forever',
        'hostile',
        (s) => s.status === 504 && s.code === 'FAULTGATE_ERR_UPSTREAM_TIMEOUT',
        '102 Processing every 20 ms, never a final answer',
      ],
      [
        '/case/huge-headers',
        'hostile',
        (s) => s.status === 502 && s.code !== undefined,
        '200 kB response header',
      ],
      [
        '/case/silent',
        'hostile',
        (s) => s.status === 504 && s.code === 'FAULTGATE_ERR_UPSTREAM_TIMEOUT',
        'accepts, never answers',
      ],
      [
        '/case/headers-then-silence',
        'hostile',
        (s) => s.status === 200 && s.broken,
        'head, 2 of 100 bytes, then silence',
      ],
      [
        '/tls/x',
        'untrusted-tls',
        (s) => s.status === 502 && s.code === 'FAULTGATE_ERR_UPSTREAM_TLS',
        'TLS upstream whose certificate is not trusted',
      ],
      [
        '/refused/x',
        'refused',
        (s) => s.status === 502 && s.code === 'FAULTGATE_ERR_UPSTREAM_CONNECT',
        'connection refused',
      ],
    ];
    let failed = 0;
    for (const [path, tool, good, what] of expectations) {
      const before = await failureCounts(fg, tool);
      const seen = await get(`${fg.url}${path}`, client);
      const observed = seen.code
        ? `${seen.status} ${seen.code}`
        : `${seen.status}${seen.broken ? ', body broken' : ''}`;
      expect(good(seen), `${path}: ${observed}`).toBe(true);
      // Counted once the exchange ends (a broken body may end just after the client saw it).
      let after = await failureCounts(fg, tool);
      for (let i = 0; i < 100 && after.failures === before.failures; i++) {
        await new Promise((r) => setTimeout(r, 20));
        after = await failureCounts(fg, tool);
      }
      expect(after.failures - before.failures, path).toBe(1);
      expect(after.upstream - before.upstream, path).toBeGreaterThanOrEqual(1);
      failed++;
      rows.push({
        case: what,
        required: '502/504 with a code, or a broken body; counted as a real upstream failure',
        observed,
        ok: true,
      });
    }

    // Not failures: 1xx before the answer are skipped; a second response hidden behind a short
    // Content-Length never answers a later request (the connection is dropped, not reused).
    for (const [path, what] of [
      ['/case/1xx-then-200', '500 × 102 Processing, then 200'],
      ['/case/cl-shorter', 'a second response hidden after Content-Length'],
    ] as const) {
      const seen = await get(`${fg.url}${path}`, client);
      expect(seen, path).toMatchObject({ status: 200, body: 'ok', broken: false });
      for (let i = 0; i < 5; i++) expect((await get(`${fg.url}/case/ok`, client)).body).toBe('ok');
      rows.push({
        case: what,
        required: 'the framed answer only; later requests unaffected',
        observed: '200 ok; next 5 requests answered ok',
        ok: true,
      });
    }

    // A response that never ends is a legitimate stream (SSE): it lasts until the client leaves,
    // and then faultgate closes the upstream connection.
    const stream = await request(`${fg.url}/case/endless`, { dispatcher: client });
    let got = 0;
    for await (const chunk of stream.body) {
      got += (chunk as Buffer).length;
      if (got >= 5) break;
    }
    expect(endless.size).toBe(1);
    const [upstreamSocket] = endless;
    await waitFor(() => upstreamSocket!.destroyed, 5000, 'the endless upstream response cancelled');
    rows.push({
      case: 'a response that never ends (1 byte every 20 ms)',
      required: 'streams until the client leaves, then the upstream connection closes',
      observed: 'streamed; upstream socket closed after the client left',
      ok: true,
    });

    const report = fg.fg.report()!;
    const tools = report.agents.find((a) => a.agent === 'hostile-test')!.tools;
    const byTool = Object.fromEntries(tools.map((t) => [t.tool, t.failures]));
    expect(byTool).toEqual({ hostile: failed - 2, 'untrusted-tls': 1, refused: 1 });
    // The upstream sockets faultgate opened are all closed or idle-pooled; none hangs in a response.
    await waitFor(() => hostile.open.size <= 2, 5000, 'hostile upstream sockets released');
  });
});

describe('a WebSocket upstream that never closes', () => {
  it('after the client left, both sockets close at client_idle_timeout_ms instead of staying pinned', async () => {
    const held = new Set<Socket>();
    const up = createServer((s) => {
      held.add(s);
      s.on('error', () => {});
      s.once('data', () =>
        s.write(
          'HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-accept: x\r\n\r\n',
        ),
      );
      s.on('close', () => held.delete(s));
      // Never ends its side, whatever the client does.
    });
    await new Promise<void>((r) => up.listen(0, '127.0.0.1', r));
    onTestFinished(async () => {
      for (const s of held) s.destroy();
      await new Promise<void>((r) => up.close(() => r()));
    });
    const upPort = (up.address() as AddressInfo).port;
    const fg = await startFaultgate(
      configYaml({ upstream: `http://127.0.0.1:${upPort}` }, 'limits: { client_idle_timeout_ms: 300 }\n'),
    );
    const client = connect({ port: fg.port, host: '127.0.0.1' });
    client.on('error', () => {});
    await new Promise((r) => client.once('connect', r));
    client.write(
      'GET /ws HTTP/1.1\r\nhost: x\r\nupgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\nsec-websocket-version: 13\r\n\r\n',
    );
    await new Promise((r) => client.once('data', r));
    expect(held.size).toBe(1);
    client.end(); // the client leaves with a FIN
    await waitFor(
      () => held.size === 0,
      5000,
      'the upstream socket closed by faultgate (server.timeout still covers upgraded sockets)',
    );
    await waitFor(() => client.destroyed || client.readableEnded, 5000, 'the client socket closed');
    rows.push({
      case: 'WebSocket upstream that never closes after the client left',
      required: 'both sockets closed by limits.client_idle_timeout_ms',
      observed: 'closed after the idle timeout (300 ms in the test)',
      ok: true,
    });
  });
});
