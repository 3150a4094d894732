import { connect, type Socket } from 'node:net';
import { rssOf } from './soak-checks.js';

/**
 * The connection flood of issue 14: `idle` keep-alive connections that sent one request and
 * then sit idle, plus `slow` clients dripping a header byte a second. Measures faultgate's RSS
 * with them open and checks that /healthz and a normal request still answer.
 */

export interface FloodResult {
  /** Connections that were accepted, and of them those still open when RSS was measured. */
  idle_opened: number;
  idle_open: number;
  slow_opened: number;
  slow_open: number;
  rss_before_mb: number;
  rss_flooded_mb: number;
  kb_per_connection: number;
  healthz_ms: number;
  request_ms: number;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function open(port: number, first: string): Promise<Socket | undefined> {
  return new Promise((resolve) => {
    const s = connect({ port, host: '127.0.0.1' });
    s.on('error', () => resolve(undefined));
    s.once('connect', () => {
      s.write(first);
      resolve(s);
    });
  });
}

async function openMany(port: number, n: number, first: string): Promise<Socket[]> {
  const out: Socket[] = [];
  // In batches: a burst of thousands of SYNs overflows the listen backlog.
  for (let i = 0; i < n; i += 500) {
    const batch = await Promise.all(Array.from({ length: Math.min(500, n - i) }, () => open(port, first)));
    for (const s of batch) if (s) out.push(s);
  }
  return out;
}

export async function flood(
  port: number,
  admin: string,
  pid: number,
  sizes: { idle: number; slow: number },
): Promise<FloodResult> {
  const rssBefore = rssOf(pid);
  const idle = await openMany(
    port,
    sizes.idle,
    'GET /tool/flood HTTP/1.1\r\nhost: flood\r\nx-agent-id: flood\r\n\r\n',
  );
  for (const s of idle) s.on('data', () => {}); // read the answer, then stay idle
  // A valid head that never ends: one more header byte a second (only headers_timeout_ms ends it).
  const slow = await openMany(port, sizes.slow, 'GET /tool/slow HTTP/1.1\r\nhost: flood\r\nx-pad: ');
  const drip = setInterval(() => {
    for (const s of slow) if (!s.destroyed) s.write('a');
  }, 1000);
  await sleep(3000);
  const rssFlooded = rssOf(pid);
  let t = performance.now();
  await (await fetch(`${admin}/healthz`)).text();
  const healthzMs = performance.now() - t;
  t = performance.now();
  await (
    await fetch(`http://127.0.0.1:${port}/tool/during-flood`, { headers: { connection: 'close' } })
  ).text();
  const requestMs = performance.now() - t;
  const result: FloodResult = {
    idle_opened: idle.length,
    idle_open: idle.filter((s) => !s.destroyed).length,
    slow_opened: slow.length,
    slow_open: slow.filter((s) => !s.destroyed).length,
    rss_before_mb: Math.round(rssBefore / 1048576),
    rss_flooded_mb: Math.round(rssFlooded / 1048576),
    kb_per_connection: Math.round((rssFlooded - rssBefore) / 1024 / Math.max(1, idle.length + slow.length)),
    healthz_ms: Math.round(healthzMs),
    request_ms: Math.round(requestMs),
  };
  clearInterval(drip);
  for (const s of [...idle, ...slow]) s.destroy();
  await sleep(2000);
  return result;
}
