import { Writable } from 'node:stream';
import { request } from 'undici';
import { describe, expect, it } from 'vitest';
import { reportCommand } from '../../src/cli/report.js';
import { configYaml, startFaultgate, startUpstream } from '../helpers/index.js';
import { startRedis } from '../helpers/redis.js';
import { api, base, errorSession, fleetState, hit, until } from './helpers.js';

async function fleetOf(n: number, redisUrl: string, fleet = '') {
  const up = await startUpstream((_req, res) => res.end('ok'));
  const out = [];
  for (let i = 0; i < n; i++) {
    const extra = `${base}fleet: { redis: "${redisUrl}", name: t, instance: i${i}, suspend_after_ms: 1000${fleet} }\n`;
    out.push(await startFaultgate(configYaml({ upstream: up.url }, extra)));
  }
  return out;
}

describe('fleet mode: one control plane in Redis', () => {
  it('a session created and started on A injects on B and C; an abort on C stops A and B', async () => {
    const redis = await startRedis();
    const [a, b, c] = await fleetOf(3, redis.url);
    for (const x of [a!, b!, c!])
      await until(async () => (await fleetState(x.adminUrl)).fleet.state === 'connected', 'connected');
    const created = await api(a!.adminUrl, 'POST', '/chaos/sessions', errorSession);
    expect(created.status).toBe(201);
    const id = created.json.id as string;
    expect((await api(a!.adminUrl, 'POST', `/chaos/sessions/${id}/start`)).json.state).toBe('running');
    for (const x of [a!, b!, c!]) await until(async () => (await hit(x.url)).status === 503, 'injection');
    expect((await api(b!.adminUrl, 'GET', `/chaos/sessions/${id}`)).json.state).toBe('running');

    expect((await api(c!.adminUrl, 'POST', `/chaos/sessions/${id}/abort`)).json.state).toBe('aborted');
    for (const x of [a!, b!]) {
      await until(
        async () => (await api(x.adminUrl, 'GET', `/chaos/sessions/${id}`)).json.state === 'aborted',
        'abort',
      );
      expect(await hit(x.url)).toEqual({ status: 200, injected: false });
    }
  });

  it('shares the level and abort-all, and a late joiner converges', async () => {
    const redis = await startRedis();
    const [a, b] = await fleetOf(2, redis.url);
    const created = await api(a!.adminUrl, 'POST', '/chaos/sessions', errorSession);
    await api(a!.adminUrl, 'POST', `/chaos/sessions/${created.json.id as string}/start`);
    expect((await api(b!.adminUrl, 'PUT', '/chaos/level', { level: 0 })).status).toBe(200);
    await until(async () => (await api(a!.adminUrl, 'GET', '/chaos/level')).json.level === 0, 'level on A');
    expect(await hit(a!.url)).toEqual({ status: 200, injected: false });
    await api(a!.adminUrl, 'PUT', '/chaos/level', { level: 1 });
    await until(async () => (await hit(b!.url)).status === 503, 'level back on B');

    const [late] = await fleetOf(1, redis.url);
    await until(async () => (await hit(late!.url)).status === 503, 'late joiner injects');

    await api(late!.adminUrl, 'POST', '/chaos/abort-all');
    for (const x of [a!, b!]) {
      await until(
        async () => (await api(x.adminUrl, 'GET', '/chaos/level')).json.aborted === true,
        'abort-all',
      );
      expect(await hit(x.url)).toEqual({ status: 200, injected: false });
    }
  });

  it('Redis stopped mid-load: no client request fails, chaos suspends, then resumes after restart', async () => {
    const redis = await startRedis();
    const [a, b] = await fleetOf(2, redis.url);
    const created = await api(a!.adminUrl, 'POST', '/chaos/sessions', errorSession);
    await api(a!.adminUrl, 'POST', `/chaos/sessions/${created.json.id as string}/start`);
    await until(async () => (await hit(b!.url)).status === 503, 'injection on B');

    let stop = false;
    const bad: number[] = [];
    const load = (async () => {
      // Every answer is either the upstream's 200 or an injected (marked) 503: nothing else.
      for (let i = 0; i < 100_000 && !stop; i++) {
        for (const x of [a!, b!]) {
          const r = await hit(x.url);
          if (!(r.status === 200 || (r.status === 503 && r.injected))) bad.push(r.status);
        }
      }
    })();
    await redis.stop();
    for (const x of [a!, b!]) {
      await until(async () => (await fleetState(x.adminUrl)).fleet.suspended, 'suspended');
      const ready = await fleetState(x.adminUrl);
      expect(ready).toEqual({
        status: 200,
        fleet: expect.objectContaining({ state: 'degraded', suspended: true }),
      });
      expect(await hit(x.url)).toEqual({ status: 200, injected: false });
    }
    await redis.restart();
    for (const x of [a!, b!]) {
      await until(
        async () => (await fleetState(x.adminUrl)).fleet.state === 'connected',
        'reconnected',
        10_000,
      );
      await until(async () => (await hit(x.url)).status === 503, 'injection resumed');
    }
    stop = true;
    await load;
    expect(bad).toEqual([]);
  });
});

describe('fleet mode: safety counted across the fleet', () => {
  it('max_affected_requests: 100 across three loaded instances stays within the stated bound', async () => {
    const redis = await startRedis();
    const fleet = await fleetOf(3, redis.url);
    const body = { ...errorSession, safety: { max_affected_requests: 100, cascade_threshold: 1000 } };
    const created = await api(fleet[0]!.adminUrl, 'POST', '/chaos/sessions', body);
    const id = created.json.id as string;
    await api(fleet[0]!.adminUrl, 'POST', `/chaos/sessions/${id}/start`);
    for (const x of fleet) {
      await until(
        async () => (await api(x.adminUrl, 'GET', `/chaos/sessions/${id}`)).json.state === 'running',
        'running',
      );
    }
    const CONCURRENCY = 4;
    let injected = 0;
    let done = false;
    const worker = async (url: string) => {
      for (let i = 0; i < 5000 && !done; i++) if ((await hit(url)).injected) injected++;
    };
    const load = Promise.all(fleet.flatMap((x) => Array.from({ length: CONCURRENCY }, () => worker(x.url))));
    for (const x of fleet) {
      await until(
        async () => (await api(x.adminUrl, 'GET', `/chaos/sessions/${id}`)).json.state === 'aborted',
        'fleet-wide max_affected abort',
        20_000,
      );
    }
    done = true;
    await load;
    // Grants are atomic in Redis: exactly the limit is handed out, never more.
    const { createClient } = await import('redis');
    const client = createClient({ url: redis.url });
    await client.connect();
    expect(Number(await client.hGet('faultgate:t:budget', id))).toBe(100);
    await client.close();
    // Overshoot: requests decided before their fault acted (at most the in-flight requests of
    // every instance); undershoot: tokens other instances still held (< 2 blocks of 5 each).
    expect(injected).toBeLessThanOrEqual(100 + fleet.length * CONCURRENCY);
    expect(injected).toBeGreaterThanOrEqual(100 - (fleet.length - 1) * 2 * 5);
    const view = await api(fleet[1]!.adminUrl, 'GET', `/chaos/sessions/${id}`);
    expect(view.json.abort_reason).toBe('max_affected_requests');
  });
});

describe('fleet mode: one recovery picture', () => {
  it('a failure through A and its retry through B are one recovered incident in the fleet report', async () => {
    const redis = await startRedis();
    let calls = 0;
    // A real upstream failure first, then success: the agent's retry goes through another replica.
    const up = await startUpstream((_req, res) => {
      res.statusCode = ++calls === 1 ? 503 : 200;
      res.end('x');
    });
    const extra = (i: number) => `${base}fleet: { redis: "${redis.url}", name: r, instance: i${i} }\n`;
    const [a, b, c] = [
      await startFaultgate(configYaml({ upstream: up.url }, extra(0))),
      await startFaultgate(configYaml({ upstream: up.url }, extra(1))),
      await startFaultgate(configYaml({ upstream: up.url }, extra(2))),
    ];
    for (const x of [a, b, c])
      await until(async () => (await fleetState(x.adminUrl)).fleet.state === 'connected', 'connected');
    expect((await hit(a.url)).status).toBe(503);
    expect((await hit(b.url)).status).toBe(200);

    const local = async (url: string, q = '') =>
      (await (await request(`${url}/api/v1/report?format=json${q}`)).body.json()) as {
        overall: { incidents: number; recovered: number; unrecovered: number; mttr_s: number | null };
      };
    // Each instance alone sees half the story.
    expect((await local(a.adminUrl)).overall).toMatchObject({ incidents: 1, recovered: 0 });
    expect((await local(b.adminUrl)).overall.incidents).toBe(0);
    let fleet = await local(c.adminUrl, '&scope=fleet');
    await until(async () => {
      fleet = await local(c.adminUrl, '&scope=fleet');
      return fleet.overall.recovered === 1;
    }, 'fleet report with both exchanges');
    expect(fleet.overall).toMatchObject({ incidents: 1, recovered: 1, unrecovered: 0 });
    expect(fleet.overall.mttr_s).toBeGreaterThanOrEqual(0);

    // The CLI: `faultgate report --fleet` asks for the same report.
    let out = '';
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        out += chunk.toString();
        cb();
      },
    });
    const code = await reportCommand(['--admin', a.adminUrl, '--fleet', '--format', 'json'], {
      env: {},
      stdout: sink,
      stderr: sink,
    });
    expect(code).toBe(0);
    expect((JSON.parse(out) as typeof fleet).overall).toMatchObject({ incidents: 1, recovered: 1 });

    const standalone = await startFaultgate(configYaml({ upstream: up.url }, base));
    const res = await request(`${standalone.adminUrl}/api/v1/report?scope=fleet`);
    expect(res.statusCode).toBe(404);
    expect(((await res.body.json()) as { error: { code: string } }).error.code).toBe(
      'FAULTGATE_ERR_NOT_FOUND',
    );
  });
});

describe('fleet mode: cascade detection across the fleet', () => {
  it('real upstream failures add up across instances: over cascade_threshold, the session aborts everywhere', async () => {
    const redis = await startRedis();
    const up = await startUpstream((_req, res) => {
      res.statusCode = 500;
      res.end('down');
    });
    const fleet = [];
    for (let i = 0; i < 3; i++) {
      const extra = `${base}fleet: { redis: "${redis.url}", name: c, instance: i${i}, suspend_after_ms: 1000 }\n`;
      fleet.push(await startFaultgate(configYaml({ upstream: up.url }, extra)));
    }
    const body = {
      ...errorSession,
      experiments: [{ name: 'never', type: 'error', probability: 0, config: { status: 503 } }],
      safety: { max_affected_requests: 0, cascade_threshold: 10 },
    };
    const created = await api(fleet[0]!.adminUrl, 'POST', '/chaos/sessions', body);
    const id = created.json.id as string;
    await api(fleet[0]!.adminUrl, 'POST', `/chaos/sessions/${id}/start`);
    for (const x of fleet) {
      await until(
        async () => (await api(x.adminUrl, 'GET', `/chaos/sessions/${id}`)).json.state === 'running',
        'running',
      );
    }
    // 4 real failures per instance: under the threshold on each, 12 > 10 for the fleet.
    for (const x of fleet) for (let i = 0; i < 4; i++) expect((await hit(x.url)).status).toBe(500);
    for (const x of fleet) {
      await until(
        async () => (await api(x.adminUrl, 'GET', `/chaos/sessions/${id}`)).json.state === 'aborted',
        'cascade abort',
      );
      expect((await api(x.adminUrl, 'GET', `/chaos/sessions/${id}`)).json.abort_reason).toBe('cascade');
    }
  });
});

describe('fleet mode: a hung Redis', () => {
  it('a Redis that stops answering (SIGSTOP) suspends fleet chaos, traffic untouched; SIGCONT resumes it', async () => {
    const redis = await startRedis();
    const [a] = await fleetOf(1, redis.url);
    const created = await api(a!.adminUrl, 'POST', '/chaos/sessions', errorSession);
    await api(a!.adminUrl, 'POST', `/chaos/sessions/${created.json.id as string}/start`);
    await until(async () => (await hit(a!.url)).status === 503, 'injection');
    redis.pause();
    await until(async () => (await fleetState(a!.adminUrl)).fleet.suspended, 'suspended while Redis hangs');
    expect(await fleetState(a!.adminUrl)).toEqual({
      status: 200,
      fleet: expect.objectContaining({ state: 'degraded', suspended: true }),
    });
    expect(await hit(a!.url)).toEqual({ status: 200, injected: false });
    redis.unpause();
    await until(async () => !(await fleetState(a!.adminUrl)).fleet.suspended, 'resumed', 10_000);
    await until(async () => (await hit(a!.url)).status === 503, 'injection again');
  });
});
