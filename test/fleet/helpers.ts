import { request } from 'undici';
import { configYaml } from '../helpers/index.js';
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
