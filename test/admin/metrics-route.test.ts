import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { Metrics } from '../../src/observe/metrics.js';
import { startAdmin } from './helpers.js';

/** 200 agents x 50 tools of counters: a body of about 1 MB, several write chunks. */
function bigMetrics(): Metrics {
  const m = new Metrics(200, 'tool');
  for (let a = 0; a < 200; a++) {
    for (let t = 0; t < 50; t++) {
      const s = m.exchange(`agent-${a}`, `tool-${t}`);
      s.success.inc();
      s.duration.observe(0.02);
    }
  }
  return m;
}

/** Our families' lines only: the process metrics move between two renders. */
const ours = (text: string) => text.split('\n').filter((l) => l.startsWith('faultgate_'));

describe('GET /metrics (admin)', () => {
  it('serves a multi-MB-scale exposition in chunks, with its exact content-length', async () => {
    const metrics = bigMetrics();
    const admin = await startAdmin({ metrics });
    const res = await fetch(`${admin.url}/metrics`);
    const body = Buffer.from(await res.arrayBuffer());
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe(metrics.registry.contentType);
    expect(Number(res.headers.get('content-length'))).toBe(body.length);
    expect(body.length).toBeGreaterThan(512 * 1024);
    const text = body.toString('utf8');
    expect(text.endsWith('\n')).toBe(true);
    const lines = ours(text);
    expect(lines.filter((l) => l.startsWith('faultgate_requests_total{'))).toHaveLength(10_000);
    expect(lines).toEqual(ours(await metrics.registry.metrics()));
  });

  it('answers HEAD with the length and no body', async () => {
    const admin = await startAdmin({ metrics: bigMetrics() });
    const res = await fetch(`${admin.url}/metrics`, { method: 'HEAD' });
    expect(res.status).toBe(200);
    expect(Number(res.headers.get('content-length'))).toBeGreaterThan(512 * 1024);
    expect((await res.arrayBuffer()).byteLength).toBe(0);
  });

  it('keeps serving after a scraper hangs up in the middle of the body', async () => {
    const admin = await startAdmin({ metrics: bigMetrics() });
    await new Promise<void>((resolve, reject) => {
      const socket = connect(admin.port, '127.0.0.1', () => {
        socket.write('GET /metrics HTTP/1.1\r\nhost: x\r\n\r\n');
      });
      socket.once('data', () => {
        socket.destroy();
        resolve();
      });
      socket.once('error', reject);
    });
    const res = await fetch(`${admin.url}/metrics`);
    const body = Buffer.from(await res.arrayBuffer());
    expect(res.status).toBe(200);
    expect(Number(res.headers.get('content-length'))).toBe(body.length);
  });
});
