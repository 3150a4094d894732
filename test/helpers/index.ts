import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { Writable } from 'node:stream';
import { onTestFinished } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { Faultgate } from '../../src/faultgate.js';
import { createLogger } from '../../src/observe/logger.js';
import { parseMetrics } from '../../bench/soak-checks.js';

export type Handler = (req: IncomingMessage, res: ServerResponse) => void;

export interface TestServer {
  server: Server;
  port: number;
  url: string;
  /** Server-side sockets, for asserting that faultgate closed them. */
  sockets: Set<Socket>;
}

/** A real upstream on 127.0.0.1, port 0, closed when the test finishes. */
export async function startUpstream(handler: Handler, server: Server = createServer()): Promise<TestServer> {
  server.on('request', handler);
  const sockets = new Set<Socket>();
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  onTestFinished(async () => {
    server.closeAllConnections?.();
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  });
  const proto = 'setSecureContext' in server ? 'https' : 'http';
  return { server, port, url: `${proto}://127.0.0.1:${port}`, sockets };
}

export interface TestFaultgate {
  fg: Faultgate;
  /** `http://127.0.0.1:PORT` of the first listener. */
  url: string;
  port: number;
  adminUrl: string;
  /** Every pino line the instance wrote, parsed. */
  logs: Record<string, unknown>[];
}

/**
 * A real faultgate instance from YAML text (listen/admin addresses default to port 0 on
 * loopback when the YAML uses `PORT0`), stopped when the test finishes.
 */
export async function startFaultgate(yaml: string, env: NodeJS.ProcessEnv = {}): Promise<TestFaultgate> {
  const result = parseConfig('test.yaml', yaml, env, process.cwd());
  if (!result.ok)
    throw new Error(result.problems.map((p) => `${p.line}:${p.col} ${p.path} ${p.message}`).join('\n'));
  const logs: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString('utf8').split('\n')) if (line) logs.push(JSON.parse(line));
      cb();
    },
  });
  const fg = await Faultgate.start(result.config, { logger: createLogger(result.config.log.level, sink) });
  onTestFinished(() => fg.close(2000));
  const first = fg.listeners[0]!;
  return { fg, url: first.url, port: first.port, adminUrl: fg.admin.url, logs };
}

/** Minimal YAML for one listener; `extra` is appended verbatim (tools, agents, ...). */
export function configYaml(listener: Record<string, unknown>, extra = ''): string {
  const fields = Object.entries({ name: 'main', listen: '127.0.0.1:0', ...listener })
    .map(([k, v]) => `    ${k}: ${JSON.stringify(v)}`)
    .join('\n');
  return `version: 1\nlisteners:\n  - ${fields.trimStart()}\nadmin: { listen: "127.0.0.1:0" }\nlog: { level: debug }\n${extra}`;
}

// One parser of Prometheus text for tests and the soak (bench/ is type-checked with test/).
export { parseMetrics };

export async function scrape(adminUrl: string): Promise<Map<string, number>> {
  const res = await fetch(`${adminUrl}/metrics`);
  return parseMetrics(await res.text());
}

/** Reads a whole body as a Buffer. */
export async function readAll(stream: AsyncIterable<Buffer | string>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(typeof c === 'string' ? Buffer.from(c) : c);
  return Buffer.concat(chunks);
}

/** Resolves when `cond()` is true, polling every 10 ms, failing after `ms`. */
export async function waitFor(cond: () => boolean, ms = 5000, what = 'condition'): Promise<void> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Reads until `ok(value)` holds (a metric reached a value), every 10 ms, failing after `ms`. */
export async function waitForValue<T>(
  read: () => Promise<T>,
  ok: (value: T) => boolean,
  ms = 5000,
  what = 'value',
): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const value = await read();
    if (ok(value)) return value;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
