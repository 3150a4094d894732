import { request as httpRequest } from 'node:http';
import { request } from 'undici';
import { describe, expect, it } from 'vitest';
import { configYaml, scrape, startFaultgate, startUpstream, waitFor } from '../helpers/index.js';

const base = `agents: { from: ["header:x-agent-id"] }
tenants: { from: ["header:x-tenant-id"] }
tools:
  - { name: search, match: { path: "/search/**" } }
`;

async function instance(extra = '', upstreamStatus = 200) {
  const up = await startUpstream((_req, res) => {
    res.statusCode = upstreamStatus;
    res.end('ok');
  });
  return startFaultgate(configYaml({ upstream: up.url }, base + extra));
}

async function api(adminUrl: string, method: string, path: string, body?: unknown, token?: string) {
  const res = await request(`${adminUrl}/api/v1${path}`, {
    method: method as 'GET',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.body.text();
  return { status: res.statusCode, json: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

async function hit(url: string, agent = 'a1', tenant = 't1'): Promise<number> {
  const res = await request(`${url}/search/q`, { headers: { 'x-agent-id': agent, 'x-tenant-id': tenant } });
  await res.body.dump();
  return res.statusCode;
}

const errorSession = (safety: Record<string, unknown> = {}, extra: Record<string, unknown> = {}) => ({
  name: 'game-day',
  experiments: [{ name: 'boom', type: 'error', probability: 1, config: { status: 503 } }],
  targeting: { agent_ids: [], tool_names: ['search'], tenant_ids: [], percentage: 1 },
  safety: { max_affected_requests: 0, cascade_threshold: 1000, ...safety },
  ...extra,
});

describe('chaos sessions over the admin API', () => {
  it('runs the lifecycle created -> running -> stopped, with 409 for transitions that make no sense', async () => {
    const { url, adminUrl } = await instance();
    const created = await api(adminUrl, 'POST', '/chaos/sessions', errorSession());
    expect(created.status).toBe(201);
    const id = created.json.id as string;
    expect(created.json.state).toBe('created');
    expect(await hit(url)).toBe(200);
    expect((await api(adminUrl, 'POST', `/chaos/sessions/${id}/start`)).json.state).toBe('running');
    expect(await hit(url)).toBe(503);
    expect((await api(adminUrl, 'POST', `/chaos/sessions/${id}/stop`)).json.state).toBe('stopped');
    expect(await hit(url)).toBe(200);
    expect((await api(adminUrl, 'POST', `/chaos/sessions/${id}/start`)).status).toBe(409);
    expect((await api(adminUrl, 'GET', `/chaos/sessions/${id}`)).json.affected_requests).toBe(1);
    expect((await api(adminUrl, 'GET', '/chaos/sessions/nope')).status).toBe(404);
    const list = await api(adminUrl, 'GET', '/chaos/sessions');
    expect(JSON.stringify(list.json)).toContain('default');
  });

  it('accepts a Pisama-style body and aborts every running session, default included', async () => {
    const { url, adminUrl } = await instance(
      'experiments: [{ name: cfg, type: latency, probability: 1, config: { pattern: fixed, min_ms: 1 } }]\n',
    );
    const created = await api(adminUrl, 'POST', '/chaos/sessions', {
      type: 'error',
      config: { status: 502 },
      probability: 1,
      tool_names: ['search'],
      safety: { max_blast_radius: 'MULTI_TENANT' },
    });
    expect(created.status).toBe(201);
    await api(adminUrl, 'POST', `/chaos/sessions/${created.json.id as string}/start`);
    expect(await hit(url)).toBe(502);
    const aborted = await api(adminUrl, 'POST', '/chaos/abort-all');
    expect(aborted.status).toBe(200);
    expect(await hit(url)).toBe(200);
    const m = await scrape(adminUrl);
    expect(m.get('faultgate_session_active{session="default"}')).toBe(0);
    expect(m.get('faultgate_session_active{session="error"}')).toBe(0);
  });

  it('aborts itself at exactly max_affected_requests', async () => {
    const { url, adminUrl } = await instance();
    const s = await api(adminUrl, 'POST', '/chaos/sessions', errorSession({ max_affected_requests: 3 }));
    const id = s.json.id as string;
    await api(adminUrl, 'POST', `/chaos/sessions/${id}/start`);
    const statuses = [];
    for (let i = 0; i < 5; i++) statuses.push(await hit(url));
    expect(statuses).toEqual([503, 503, 503, 200, 200]);
    const view = (await api(adminUrl, 'GET', `/chaos/sessions/${id}`)).json;
    expect(view).toMatchObject({
      state: 'aborted',
      abort_reason: 'max_affected_requests',
      affected_requests: 3,
    });
    const m = await scrape(adminUrl);
    expect(m.get('faultgate_safety_aborts_total{session="game-day",reason="max_affected_requests"}')).toBe(1);
    expect(m.get('faultgate_session_active{session="game-day"}')).toBe(0);
  });

  it('aborts on a cascade of real upstream failures above cascade_threshold', async () => {
    const { url, adminUrl } = await instance('', 503);
    const session = {
      name: 'slow',
      experiments: [
        { name: 'lat', type: 'latency', probability: 1, config: { pattern: 'fixed', min_ms: 1 } },
      ],
      safety: { cascade_threshold: 2, auto_abort_on_cascade: true, max_affected_requests: 0 },
    };
    const id = (await api(adminUrl, 'POST', '/chaos/sessions', session)).json.id as string;
    await api(adminUrl, 'POST', `/chaos/sessions/${id}/start`);
    for (let i = 0; i < 2; i++) await hit(url);
    expect((await api(adminUrl, 'GET', `/chaos/sessions/${id}`)).json.state).toBe('running');
    await hit(url); // the third real failure is over the threshold
    expect((await api(adminUrl, 'GET', `/chaos/sessions/${id}`)).json).toMatchObject({
      state: 'aborted',
      abort_reason: 'cascade',
    });
  });

  it('limits the blast radius to one request, one agent or one tenant', async () => {
    const { url, adminUrl } = await instance();
    const run = async (radius: string) => {
      const id = (
        await api(
          adminUrl,
          'POST',
          '/chaos/sessions',
          errorSession({ max_blast_radius: radius }, { name: radius }),
        )
      ).json.id as string;
      await api(adminUrl, 'POST', `/chaos/sessions/${id}/start`);
      const out = [
        await hit(url, 'a1', 't1'),
        await hit(url, 'a2', 't1'),
        await hit(url, 'a1', 't2'),
        await hit(url, 'a1', 't1'),
      ];
      const state = (await api(adminUrl, 'GET', `/chaos/sessions/${id}`)).json.state;
      await api(adminUrl, 'POST', `/chaos/sessions/${id}/abort`);
      return { out, state };
    };
    expect(await run('single_request')).toEqual({ out: [503, 200, 200, 200], state: 'completed' });
    expect((await run('single_agent')).out).toEqual([503, 200, 503, 503]);
    expect((await run('single_tenant')).out).toEqual([503, 503, 200, 503]);
    expect((await run('multi_tenant')).out).toEqual([503, 503, 503, 503]);
  });

  it('completes after duration_s', async () => {
    const { url, adminUrl } = await instance();
    const id = (await api(adminUrl, 'POST', '/chaos/sessions', errorSession({}, { duration_s: 0.3 }))).json
      .id as string;
    await api(adminUrl, 'POST', `/chaos/sessions/${id}/start`);
    expect(await hit(url)).toBe(503);
    await waitFor(() => false, 400).catch(() => {});
    expect(await hit(url)).toBe(200);
    expect((await api(adminUrl, 'GET', `/chaos/sessions/${id}`)).json.state).toBe('completed');
  });

  it('abort ends the faults in flight: a hang is released', async () => {
    const { fg, adminUrl } = await instance();
    const session = {
      name: 'hang',
      experiments: [{ name: 'h', type: 'timeout', probability: 1, config: { then: 'hang' } }],
      safety: { max_affected_requests: 0 },
    };
    const id = (await api(adminUrl, 'POST', '/chaos/sessions', session)).json.id as string;
    await api(adminUrl, 'POST', `/chaos/sessions/${id}/start`);
    let done = false;
    const ended = new Promise<void>((resolve) => {
      const finish = () => {
        done = true;
        resolve();
      };
      const req = httpRequest({
        host: '127.0.0.1',
        port: fg.listeners[0]!.port,
        path: '/search/q',
        headers: { 'x-agent-id': 'a1' },
      });
      req.on('error', finish);
      req.on('response', (res) => {
        res.resume();
        res.on('end', finish);
      });
      req.end();
    });
    // The hang is in force (the active gauge says so) and nothing but the abort can end it.
    await waitFor(() => fg.metrics.faults.activeCount() === 1, 5000, 'the hang to begin');
    expect(done).toBe(false);
    expect((await api(adminUrl, 'POST', `/chaos/sessions/${id}/abort`)).json.state).toBe('aborted');
    await ended;
    await waitFor(() => fg.metrics.faults.activeCount() === 0, 5000, 'active faults back to 0');
  });

  it('requires the bearer token on /api when one is set, keeping /metrics and /healthz open', async () => {
    const { adminUrl } = await instance();
    expect((await api(adminUrl, 'GET', '/chaos/level')).status).toBe(200); // no token configured
    const up = await startUpstream((_req, res) => res.end('ok'));
    const yaml = `version: 1\nlisteners: [{ name: main, listen: "127.0.0.1:0", upstream: "${up.url}" }]\nadmin: { listen: "127.0.0.1:0", token: s3cret }\n`;
    const secured = await startFaultgate(yaml);
    expect((await api(secured.adminUrl, 'GET', '/chaos/level')).status).toBe(401);
    expect((await api(secured.adminUrl, 'GET', '/chaos/level', undefined, 'wrong')).status).toBe(401);
    const ok = await api(secured.adminUrl, 'GET', '/chaos/level', undefined, 's3cret');
    expect(ok.status).toBe(200);
    expect((await api(secured.adminUrl, 'PUT', '/chaos/level', { level: 0.5 }, 's3cret')).status).toBe(200);
    expect((await api(secured.adminUrl, 'GET', '/chaos/level', undefined, 's3cret')).json).toMatchObject({
      level: 0.5,
    });
    expect((await fetch(`${secured.adminUrl}/metrics`)).status).toBe(200);
    expect((await fetch(`${secured.adminUrl}/healthz`)).status).toBe(200);
  });
});
