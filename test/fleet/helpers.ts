import { type AddressInfo, connect, createServer, type Socket } from 'node:net';
import { request } from 'undici';
import { onTestFinished } from 'vitest';
import { configYaml, scrape } from '../helpers/index.js';
import { type FaultgateProcess, spawnFaultgate } from '../helpers/process.js';

export const base = `agents: { from: ["header:x-agent-id"] }
tools:
  - { name: search, match: { path: "/search/**" } }
`;

/** `n` real faultgate processes (built dist/) on one Redis; `fleet` is appended to the fleet map. */
export async function spawnFleet(
  n: number,
  upstream: string,
  redisUrl: string,
  opts: { name?: string; fleet?: string; extra?: string; first?: number } = {},
): Promise<FaultgateProcess[]> {
  const out: FaultgateProcess[] = [];
  for (let i = opts.first ?? 0; i < (opts.first ?? 0) + n; i++) {
    const fleet = `fleet: { redis: "${redisUrl}", name: ${opts.name ?? 't'}, instance: p${i}, suspend_after_ms: 1000${opts.fleet ?? ''} }\n`;
    const yaml = configYaml({ upstream }, `${base}${opts.extra ?? ''}${fleet}`).replace(
      'log: { level: debug }',
      'log: { level: info }',
    );
    out.push(await spawnFaultgate(yaml));
  }
  return out;
}

export async function api(adminUrl: string, method: string, path: string, body?: unknown) {
  const res = await request(`${adminUrl}/api/v1${path}`, {
    method: method as 'GET',
    headers: { 'content-type': 'application/json' },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.body.text();
  return { status: res.statusCode, json: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

export async function hit(
  url: string,
  agent = 'a1',
  path = '/search/q',
): Promise<{ status: number; injected: boolean }> {
  const res = await request(`${url}${path}`, { headers: { 'x-agent-id': agent } });
  await res.body.dump();
  return { status: res.statusCode, injected: res.headers['x-faultgate-injected'] !== undefined };
}

/** Polls an async condition (bounded); the assertion is the condition, never the elapsed time. */
export async function until(cond: () => Promise<boolean>, what: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export const fleetState = async (adminUrl: string) => {
  const res = await request(`${adminUrl}/readyz`);
  const body = (await res.body.json()) as { chaos: { fleet: { state: string; suspended: boolean } } };
  return { status: res.statusCode, fleet: body.chaos.fleet };
};

export const connected = async (xs: { adminUrl: string }[]) => {
  for (const x of xs)
    await until(async () => (await fleetState(x.adminUrl)).fleet.state === 'connected', 'connected');
};

export const sessionState = async (adminUrl: string, id: string) =>
  (await api(adminUrl, 'GET', `/chaos/sessions/${id}`)).json.state as string | undefined;

export const errorSession = {
  name: 'fleet-day',
  experiments: [{ name: 'boom', type: 'error', probability: 1, config: { status: 503 } }],
  targeting: { agent_ids: [], tool_names: ['search'], tenant_ids: [], percentage: 1 },
  safety: { max_affected_requests: 0, cascade_threshold: 1000 },
};

/** Creates a session on `on` and starts it; resolves once every instance runs it. */
export async function startEverywhere(on: string, all: { adminUrl: string }[], body: unknown) {
  const created = await api(on, 'POST', '/chaos/sessions', body);
  if (created.status !== 201) throw new Error(`create: ${JSON.stringify(created.json)}`);
  const id = created.json.id as string;
  await api(on, 'POST', `/chaos/sessions/${id}/start`);
  for (const x of all) await until(async () => (await sessionState(x.adminUrl, id)) === 'running', 'running');
  return id;
}

/**
 * A TCP proxy in front of Redis that delays every reply by `delay` ms (in order): a Redis that
 * answers, slowly. `delivered` counts reply chunks passed on.
 */
export interface SlowRedis {
  url: string;
  delay: number;
  delivered: number;
  close(): Promise<void>;
}

export async function slowRedis(port: number): Promise<SlowRedis> {
  const sockets = new Set<Socket>();
  const proxy: SlowRedis = { url: '', delay: 0, delivered: 0, close: async () => {} };
  const server = createServer((client) => {
    const upstream = connect(port, '127.0.0.1');
    sockets.add(client).add(upstream);
    const queue: { at: number; chunk: Buffer }[] = [];
    let timer: NodeJS.Timeout | undefined;
    const pump = () => {
      timer = undefined;
      while (queue.length > 0 && queue[0]!.at <= Date.now()) {
        client.write(queue.shift()!.chunk);
        proxy.delivered++;
      }
      if (queue.length > 0) timer = setTimeout(pump, queue[0]!.at - Date.now());
    };
    upstream.on('data', (chunk: Buffer) => {
      queue.push({ at: Date.now() + proxy.delay, chunk });
      timer ??= setTimeout(pump, proxy.delay);
    });
    client.pipe(upstream);
    const end = () => {
      clearTimeout(timer);
      client.destroy();
      upstream.destroy();
    };
    for (const s of [client, upstream]) s.on('error', end).on('close', end);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  proxy.url = `redis://127.0.0.1:${(server.address() as AddressInfo).port}/0`;
  proxy.close = async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  };
  onTestFinished(() => proxy.close());
  return proxy;
}

/** The sum of every series of a metric family in one scrape. */
export async function metricSum(adminUrl: string, name: string): Promise<number> {
  let sum = 0;
  for (const [key, value] of await scrape(adminUrl)) {
    const brace = key.indexOf('{');
    if ((brace === -1 ? key : key.slice(0, brace)) === name) sum += value;
  }
  return sum;
}
