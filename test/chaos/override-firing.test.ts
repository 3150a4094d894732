/**
 * `x-faultgate-fault` with `times=` and `probability=` (issue 10): "fails once, then recovers"
 * against a client that retries by itself, and a seeded share of requests.
 */
import { request, RetryAgent, Agent } from 'undici';
import { describe, expect, it } from 'vitest';
import { OverrideCache } from '../../src/chaos/override.js';
import { SeededRng } from '../../src/chaos/rng.js';
import { configYaml, scrape, startFaultgate, startUpstream } from '../helpers/index.js';

const EXTRA = (seed: number) => `agents: { from: [header:x-agent-id], default: anon }
tools:
  - { name: search, match: { path: "/search" }, format: json }
chaos: { header_overrides: true, seed: ${seed} }
`;

async function setup(seed = 11) {
  let calls = 0;
  const up = await startUpstream((req, res) => {
    calls++;
    req.resume();
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"results":[]}');
  });
  const fg = await startFaultgate(configYaml({ upstream: up.url }, EXTRA(seed)));
  return { ...fg, calls: () => calls };
}

describe('x-faultgate-fault times= and probability=', () => {
  it('times=1 with a retrying client: first 503, the retry 200, one recovered incident', async () => {
    const { url, fg, adminUrl, calls } = await setup();
    const statuses: number[] = [];
    const inner = new Agent();
    // undici's own retry agent: retries 503 on idempotent and non-idempotent methods alike here.
    const client = new RetryAgent(inner, {
      maxRetries: 3,
      minTimeout: 10,
      timeoutFactor: 1,
      methods: ['POST'],
      statusCodes: [503],
      retry(err, { state }, cb) {
        const status = (err as { statusCode?: number }).statusCode ?? 0;
        statuses.push(status);
        if (status === 503 && state.counter <= 3) setTimeout(() => cb(null), 10);
        else cb(err);
      },
    });
    try {
      const res = await request(`${url}/search`, {
        method: 'POST',
        dispatcher: client,
        headers: {
          'content-type': 'application/json',
          'x-agent-id': 'planner',
          'x-faultgate-fault': 'error;status=503;times=1',
        },
        body: '{"q":"weather"}',
      });
      expect(res.statusCode).toBe(200);
      expect(await res.body.text()).toBe('{"results":[]}');
    } finally {
      await client.close();
    }
    expect(statuses).toEqual([503]); // one retry, after the injected 503
    expect(calls()).toBe(1); // the injected answer never reached upstream
    const row = fg.report()!.agents.find((a) => a.agent === 'planner')!.tools[0]!;
    expect(row).toMatchObject({
      tool: 'search',
      requests: 2,
      failures: 1,
      incidents: 1,
      recovered: 1,
      open: 0,
    });
    expect(row.faults).toEqual({ error: 1 });
    const m = await scrape(adminUrl);
    expect(m.get('faultgate_recoveries_total{agent="planner",tool="search",kind="retry"}')).toBe(1);
  });

  it('times= counts per retry key: another path or body fails once too, the same one passes', async () => {
    const { url } = await setup();
    const send = async (path: string, body: string) => {
      const res = await request(`${url}${path}`, {
        method: 'POST',
        headers: { 'x-faultgate-fault': 'error;status=503;times=2', 'content-length': String(body.length) },
        body,
      });
      await res.body.dump();
      return res.statusCode;
    };
    const seq = [];
    for (let i = 0; i < 3; i++) seq.push(await send('/search', '{"q":1}'));
    seq.push(await send('/search', '{"q":12}')); // another body length: another key
    seq.push(await send('/search?page=2', '{"q":1}'));
    expect(seq).toEqual([503, 503, 200, 503, 503]);
  });

  it('probability= fires on a seeded share of requests: within bounds, identical for the same seed', async () => {
    const N = 400;
    const run = async (seed: number) => {
      const { url } = await setup(seed);
      const fired: boolean[] = [];
      for (let i = 0; i < N; i++) {
        const res = await request(`${url}/search`, {
          headers: { 'x-agent-id': 'a', 'x-faultgate-fault': 'error;status=503;probability=0.3' },
        });
        await res.body.dump();
        fired.push(res.statusCode === 503);
      }
      return fired;
    };
    const first = await run(5);
    const n = first.filter(Boolean).length;
    // Binomial(400, 0.3): mean 120, sigma 9.2; ±5 sigma cannot flake (and the seed fixes it anyway).
    expect(n).toBeGreaterThanOrEqual(74);
    expect(n).toBeLessThanOrEqual(166);
    expect(await run(5)).toEqual(first);
  });

  it('rejects times= and probability= that make no sense with 400 FAULTGATE_ERR_OVERRIDE', async () => {
    const { url, calls } = await setup();
    for (const bad of ['error;times=0', 'error;times=1.5', 'error;probability=2', 'error;probability=x']) {
      const res = await request(`${url}/search`, { headers: { 'x-faultgate-fault': bad } });
      const body = (await res.body.json()) as { error: { code: string; message: string } };
      expect(res.statusCode, bad).toBe(400);
      expect(body.error.code).toBe('FAULTGATE_ERR_OVERRIDE');
      expect(body.error.message).toMatch(/^(times|probability): expected/);
    }
    expect(calls()).toBe(0);
  });
});

describe('OverrideCache.fires', () => {
  const req = { agent: 'a', tool: 't', method: 'GET', path: '/x', bodyKey: '' };
  it('forgets a retry key after the window: a later request is a new one', () => {
    const clock = { now: 0 };
    const cache = new OverrideCache(() => clock.now);
    const header = 'error;times=1';
    const parsed = cache.get(header);
    if (!parsed.ok) throw new Error(parsed.message);
    const rng = new SeededRng(1);
    expect(cache.fires(header, parsed, req, rng, 1000)).toBe(true);
    clock.now = 500;
    expect(cache.fires(header, parsed, req, rng, 1000)).toBe(false);
    clock.now = 1400; // 900 ms after the last one: still a retry
    expect(cache.fires(header, parsed, req, rng, 1000)).toBe(false);
    clock.now = 2401;
    expect(cache.fires(header, parsed, req, rng, 1000)).toBe(true);
    expect(cache.fires(header, parsed, { ...req, agent: 'b' }, rng, 1000)).toBe(true);
  });
});
