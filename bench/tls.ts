import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpsServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { Agent, type Dispatcher, ProxyAgent, request } from 'undici';
import { ensureCa } from '../src/tls/ca.js';
import { issueLeaf } from '../src/tls/leaf-cache.js';
import {
  type Child,
  fmt,
  freePort,
  list,
  machineLine,
  percentile,
  parseFlags,
  printTable,
  SUT_CPU,
  startChild,
  stopAll,
} from './harness.js';
import { FAULTGATE_CLI } from './targets.js';
import { parseSize, startUpstream } from './upstream.js';

/**
 * HTTPS through faultgate (issue 9): keep-alive throughput and latency for an https upstream
 * directly, through an opaque tunnel (tls: tunnel) and through interception (tls: intercept),
 * next to faultgate's plain-HTTP reverse path (the ratio the issue targets: intercepted >= 0.8x
 * plain at 1 KiB); then the handshake cost of a never-seen host (a leaf is generated) against a
 * cached one, and faultgate's memory per cached host. The load runs in this process with undici
 * (wrk and autocannon cannot CONNECT through a proxy); faultgate runs pinned to the target core.
 */

const USAGE = `usage: node dist/bench/tls.js [--duration 5] [--sizes 1k,256k] [--connections 10]
       [--hosts 200] [--markdown]`;

const flags = parseFlags({
  duration: '5',
  sizes: '1k,256k',
  connections: '10',
  hosts: '200',
  markdown: 'false',
});
if (flags.help) {
  console.log(USAGE);
  process.exit(0);
}
const durationS = Number(flags.duration);
const sizes = list(flags.sizes).map(parseSize);
const connections = Number(flags.connections);
const hostCount = Number(flags.hosts);
const markdown = flags.markdown !== 'false';
const headers = { 'x-agent-id': 'bench-agent' };
const DAY = 86_400_000;

interface Result {
  count: number;
  rps: number;
  p50: number;
  p99: number;
}

/** `connections` concurrent request loops for `durationS` seconds; per-request latency in ms. */
async function load(url: string, dispatcher: Dispatcher): Promise<Result> {
  const times: number[] = [];
  const until = performance.now() + durationS * 1000;
  const loop = async () => {
    while (performance.now() < until) {
      const t0 = performance.now();
      const res = await request(url, { dispatcher, headers });
      await res.body.arrayBuffer();
      if (res.statusCode !== 200) throw new Error(`${url}: ${res.statusCode}`);
      times.push(performance.now() - t0);
    }
  };
  const start = performance.now();
  await Promise.all(Array.from({ length: connections }, loop));
  const elapsed = (performance.now() - start) / 1000;
  times.sort((a, b) => a - b);
  return {
    count: times.length,
    rps: times.length / elapsed,
    p50: percentile(times, 50),
    p99: percentile(times, 99),
  };
}

async function httpsUpstream(dir: string): Promise<{ server: Server; port: number; ca: string }> {
  // The upstream's own CA, given to faultgate as upstream.ca_file (as a test upstream would be).
  const { ca } = await ensureCa(join(dir, 'upstream-ca'));
  const leaf = await issueLeaf(ca, '127.0.0.1', new Date(Date.now() - DAY), new Date(Date.now() + DAY));
  const plain = await startUpstream(0);
  const handler = plain.server.listeners('request')[0] as Parameters<typeof createHttpsServer>[1];
  plain.server.close();
  const server = createHttpsServer(
    { key: leaf.keyPem, cert: leaf.certPem, keepAliveTimeout: 60_000 },
    handler,
  );
  server.maxRequestsPerSocket = 0;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, port: (server.address() as AddressInfo).port, ca: ca.certPem };
}

async function startFaultgate(dir: string, caFile: string, httpUpstream: string) {
  const ports = {
    intercept: await freePort(),
    tunnel: await freePort(),
    reverse: await freePort(),
    admin: await freePort(),
  };
  const file = join(dir, 'faultgate.yaml');
  const allow = '["127.0.0.1", "*.bench.test"]';
  writeFileSync(
    file,
    `version: 1
listeners:
  - { name: intercept, listen: "127.0.0.1:${ports.intercept}", forward: true, tls: intercept, allow_hosts: ${allow} }
  - { name: tunnel, listen: "127.0.0.1:${ports.tunnel}", forward: true, tls: tunnel, allow_hosts: ${allow} }
  - { name: reverse, listen: "127.0.0.1:${ports.reverse}", upstream: "${httpUpstream}" }
admin: { listen: "127.0.0.1:${ports.admin}" }
ca: { dir: ${JSON.stringify(join(dir, 'ca'))} }
upstream: { ca_file: ${JSON.stringify(caFile)} }
tools:
  - { name: api, match: { host: 127.0.0.1 } }
chaos: { level: 0 }
log: { level: warn }
`,
  );
  const { child } = await startChild('faultgate', process.execPath, [FAULTGATE_CLI, 'start', '-c', file], {
    cpu: SUT_CPU,
    ready: /./,
  });
  // Ready once the admin API answers (the CA is created before anything listens).
  for (let i = 0; i < 200; i++) {
    try {
      if ((await fetch(`http://127.0.0.1:${ports.admin}/readyz`)).status === 200) break;
    } catch {
      // not yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { child, ports, faultgateCa: readFileSync(join(dir, 'ca', 'ca.pem'), 'utf8') };
}

/** CONNECT + TLS handshake with SNI `name`; ms from the CONNECT to a verified session. */
function handshake(proxyPort: number, target: string, name: string, ca: string): Promise<number> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const socket = netConnect({ host: '127.0.0.1', port: proxyPort }, () =>
      socket.write(`CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n\r\n`),
    );
    socket.once('error', reject);
    socket.once('data', () => {
      const tls = tlsConnect({ socket, servername: name, ca }, () => {
        const ms = performance.now() - t0;
        tls.destroy();
        resolve(ms);
      });
      tls.once('error', reject);
    });
  });
}

/** The child's CPU time (user + system) in ms, from /proc: what a handshake costs faultgate, whatever the load. */
function cpuMs(child: Child): number {
  const stat = readFileSync(`/proc/${child.pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // utime and stime are fields 14 and 15 of stat(5), in clock ticks (100 per second on Linux).
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
}

function rssBytes(child: Child): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : Number.NaN;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'faultgate-bench-tls-'));
  try {
    const up = await httpsUpstream(dir);
    const caFile = join(dir, 'upstream-ca', 'ca.pem');
    const plainUp = await startUpstream(0);
    const fg = await startFaultgate(dir, caFile, plainUp.url);
    const proxy = (port: number, ca: string) =>
      new ProxyAgent({ uri: `http://127.0.0.1:${port}`, requestTls: { ca }, connections });
    const columns: [string, () => Dispatcher, (size: number) => string][] = [
      [
        'https direct',
        () => new Agent({ connect: { ca: up.ca }, connections }),
        (s) => `https://127.0.0.1:${up.port}/bytes/${s}`,
      ],
      [
        'https opaque tunnel',
        () => proxy(fg.ports.tunnel, up.ca),
        (s) => `https://127.0.0.1:${up.port}/bytes/${s}`,
      ],
      [
        'https interception',
        () => proxy(fg.ports.intercept, fg.faultgateCa),
        (s) => `https://127.0.0.1:${up.port}/bytes/${s}`,
      ],
      [
        'http via faultgate (reverse)',
        () => new Agent({ connections }),
        (s) => `http://127.0.0.1:${fg.ports.reverse}/bytes/${s}`,
      ],
    ];
    const rows: string[][] = [];
    for (const size of sizes) {
      let plain = Number.NaN;
      let intercepted = Number.NaN;
      for (const [name, dispatcher, url] of columns) {
        const d = dispatcher();
        await load(url(size), d).catch(() => undefined); // warm-up: pools, leaf, CA
        const cpu0 = cpuMs(fg.child);
        const r = await load(url(size), d);
        // faultgate's own CPU per request: comparable across runs however loaded the machine is.
        const cpuUs = name === 'https direct' ? '' : fmt(((cpuMs(fg.child) - cpu0) * 1000) / r.count, 0);
        await d.close();
        if (name.startsWith('http via')) plain = r.rps;
        if (name === 'https interception') intercepted = r.rps;
        rows.push([`${size / 1024} KiB`, name, fmt(r.rps, 0), fmt(r.p50), fmt(r.p99), cpuUs]);
      }
      rows.push([
        `${size / 1024} KiB`,
        'interception / plain faultgate',
        fmt(intercepted / plain),
        '',
        '',
        '',
      ]);
    }
    console.log(machineLine(`${connections} keep-alive connections, ${durationS} s per column`));
    printTable(['size', 'path', 'req/s', 'p50 ms', 'p99 ms', 'faultgate CPU µs/req'], rows, markdown);

    // Handshake cost: a never-seen SNI name (a leaf is generated) against one already cached.
    const target = `127.0.0.1:${up.port}`;
    const rssBefore = rssBytes(fg.child);
    const cpu0 = cpuMs(fg.child);
    const fresh: number[] = [];
    for (let i = 0; i < hostCount; i++)
      fresh.push(await handshake(fg.ports.intercept, target, `h${i}.bench.test`, fg.faultgateCa));
    const cpu1 = cpuMs(fg.child);
    const rssAfter = rssBytes(fg.child);
    const cached: number[] = [];
    for (let i = 0; i < hostCount; i++)
      cached.push(await handshake(fg.ports.intercept, target, `h${i}.bench.test`, fg.faultgateCa));
    const cpu2 = cpuMs(fg.child);
    fresh.sort((a, b) => a - b);
    cached.sort((a, b) => a - b);
    console.log();
    printTable(
      ['handshake (CONNECT to verified TLS)', 'n', 'p50 ms', 'p99 ms', 'faultgate CPU ms each'],
      [
        [
          'new host (leaf signed)',
          String(hostCount),
          fmt(percentile(fresh, 50)),
          fmt(percentile(fresh, 99)),
          fmt((cpu1 - cpu0) / hostCount),
        ],
        [
          'cached host',
          String(hostCount),
          fmt(percentile(cached, 50)),
          fmt(percentile(cached, 99)),
          fmt((cpu2 - cpu1) / hostCount),
        ],
      ],
      markdown,
    );
    console.log(
      `\nfaultgate RSS growth over ${hostCount} new hosts: ${fmt((rssAfter - rssBefore) / hostCount / 1024, 1)} KiB per cached host (RSS, noisy; GC not forced)`,
    );
    up.server.close();
    plainUp.server.close();
  } finally {
    await stopAll();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
process.exit(0);
