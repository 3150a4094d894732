import { readdirSync, readFileSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { connect, type Socket } from 'node:net';
import { Agent, request } from 'undici';
import { afterAll, describe, expect, it, onTestFinished } from 'vitest';
import { configYaml, scrape, startFaultgate, startUpstream, waitFor } from '../helpers/index.js';
import { type MatrixRow, writeMatrix } from '../helpers/matrix.js';
import { spawnFaultgate } from '../helpers/process.js';
import { metricSum, rawRequest } from '../helpers/wire.js';

const rows: MatrixRow[] = [];
afterAll(() => {
  if (rows.length > 0) writeMatrix('overload', 'Overload', rows);
});

const rssOf = (pid: number) =>
  Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) * 1024;
const fds = (pid: number) => readdirSync(`/proc/${pid}/fd`).length;

describe('overload', () => {
  it('over limits.max_inflight a request gets 503 FAULTGATE_ERR_OVERLOADED with Retry-After; admin still answers and aborts', async () => {
    const held: ServerResponse[] = [];
    const up = await startUpstream((_req, res) => held.push(res));
    const fg = await startFaultgate(
      configYaml(
        { upstream: up.url },
        `limits: { max_inflight: 4 }
experiments:
  - { name: slow, type: latency, probability: 0.000001, config: { min_ms: 1, max_ms: 2 } }
`,
      ),
    );
    const client = new Agent({ connections: 10 });
    onTestFinished(() => client.destroy());
    const pending = Array.from({ length: 4 }, (_, i) =>
      request(`${fg.url}/held/${i}`, { dispatcher: client }),
    );
    await waitFor(() => held.length === 4, 5000, '4 requests at the upstream');

    const over = await request(`${fg.url}/over`, { dispatcher: client });
    expect(over.statusCode).toBe(503);
    expect(over.headers['retry-after']).toBe('1');
    expect(((await over.body.json()) as { error: { code: string } }).error.code).toBe(
      'FAULTGATE_ERR_OVERLOADED',
    );

    // The data plane is saturated; the admin plane is not limited: chaos can always be stopped.
    expect((await fetch(`${fg.adminUrl}/healthz`)).status).toBe(200);
    const abort = await fetch(`${fg.adminUrl}/api/v1/chaos/abort-all`, { method: 'POST' });
    expect(abort.status).toBe(200);
    await abort.text();

    for (const res of held) res.end('done');
    for (const p of pending) {
      const res = await p;
      expect(res.statusCode).toBe(200);
      await res.body.text();
    }
    // Slots come back: 4 more at once are admitted.
    const again = Array.from({ length: 4 }, (_, i) =>
      request(`${fg.url}/again/${i}`, { dispatcher: client }),
    );
    await waitFor(() => held.length === 8, 5000, '4 more at the upstream');
    for (const res of held.slice(4)) res.end('done');
    for (const p of again) {
      const res = await p;
      expect(res.statusCode).toBe(200);
      await res.body.text();
    }
    const m = await scrape(fg.adminUrl);
    expect(metricSum(m, 'faultgate_overload_rejections_total', { limit: 'max_inflight' })).toBe(1);
    rows.push({
      case: 'limits.max_inflight: 4, a 5th request while 4 are held by the upstream',
      required: '503 FAULTGATE_ERR_OVERLOADED with Retry-After; /healthz and abort-all answer',
      observed:
        '503 FAULTGATE_ERR_OVERLOADED, Retry-After: 1; /healthz 200, abort-all 200; slots released after',
      ok: true,
    });
  });

  it('a flood of 1000 idle connections over limits.max_connections: 500 are refused, memory stays bounded, admin answers', async () => {
    const up = await startUpstream((_req, res) => res.end('ok'));
    const fg = await spawnFaultgate(
      configYaml(
        { upstream: up.url },
        'limits: { max_connections: 500, client_idle_timeout_ms: 60000 }\n',
      ).replace('level: debug', 'level: info'),
    );
    const pid = fg.child.pid!;
    const port = Number(new URL(fg.url).port);
    await (await fetch(`${fg.url}/warm`, { headers: { connection: 'close' } })).text();
    const rssBefore = rssOf(pid);
    const fdBefore = fds(pid);

    const sockets: Socket[] = [];
    let closedByServer = 0;
    onTestFinished(() => {
      for (const s of sockets) s.destroy();
    });
    for (let i = 0; i < 1000; i++) {
      const s = connect({ port, host: '127.0.0.1' });
      s.on('error', () => {});
      s.on('close', () => closedByServer++);
      sockets.push(s);
    }
    await waitFor(() => closedByServer === 500, 15_000, `500 connections refused (now ${closedByServer})`);
    await waitFor(() => fds(pid) >= fdBefore + 495, 5000, 'the 500 admitted connections open');
    const rssGrowth = rssOf(pid) - rssBefore;
    // 500 idle sockets cost well under 32 MB (measured: a few MB); a leak per socket would not.
    expect(rssGrowth).toBeLessThan(32 * 1024 * 1024);

    const health = await fetch(`${fg.adminUrl}/healthz`);
    expect(health.status).toBe(200);
    const metrics = await scrape(fg.adminUrl);
    expect(metricSum(metrics, 'faultgate_overload_rejections_total', { limit: 'max_connections' })).toBe(500);

    // An admitted idle connection still serves a request.
    const open = sockets.find((s) => !s.destroyed)!;
    const served = new Promise<string>((resolve) => {
      let text = '';
      open.on('data', (d) => {
        text += d.toString();
        if (text.includes('\r\n\r\nok')) resolve(text);
      });
    });
    open.write('GET /idle HTTP/1.1\r\nhost: x\r\n\r\n');
    expect(await served).toMatch(/^HTTP\/1\.1 200/);

    for (const s of sockets) s.destroy();
    await waitFor(() => fds(pid) <= fdBefore + 2, 10_000, `fds back to ${fdBefore} (now ${fds(pid)})`);
    // With the flood gone, new connections are admitted again.
    expect(
      (await rawRequest(port, 'GET /after HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n')).status,
    ).toBe(200);
    rows.push({
      case: '1000 idle connections against limits.max_connections: 500',
      required:
        'connections over the limit refused; memory bounded; /healthz answers; admitted ones still serve',
      observed: `500 refused (closed on accept), RSS +${(rssGrowth / 1048576).toFixed(1)} MB for 500 idle sockets; /healthz 200; fds back to baseline`,
      ok: true,
    });
  });
});
