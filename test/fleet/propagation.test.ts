import { request } from 'undici';
import { describe, expect, it } from 'vitest';
import { startUpstream } from '../helpers/index.js';
import { startRedis } from '../helpers/redis.js';
import {
  api,
  connected,
  errorSession,
  fleetState,
  hit,
  metricSum,
  sessionState,
  slowRedis,
  spawnFleet,
  startEverywhere,
  until,
} from './helpers.js';

/** Far longer than any wait below: only pub/sub can deliver a change in time. */
const NO_RESYNC = ', resync_ms: 600000';
/** The wait for a change to reach every instance: well under the resync, not a measurement. */
const PUBSUB_BOUND_MS = 3000;
/**
 * The first scenario starts four faultgate processes one after another (~4 s alone); under a
 * loaded machine it once ran past the suite's 20 s default, so it gets a bound of its own.
 */
const FOUR_PROCESS_TIMEOUT_MS = 60_000;

const holdSession = {
  ...errorSession,
  name: 'hold',
  experiments: [
    {
      name: 'hold',
      type: 'latency',
      probability: 1,
      config: { min_ms: 60_000, max_ms: 60_000, phase: 'first_byte' },
    },
  ],
};

describe('fleet mode: propagation by pub/sub alone (resync_ms: 600000)', () => {
  it('a start reaches B and C, an abort on C ends a fault held on B, a fourth instance joins late', {
    timeout: FOUR_PROCESS_TIMEOUT_MS,
  }, async () => {
    const redis = await startRedis();
    let heldSeen = false;
    const up = await startUpstream((req, res) => {
      if (req.url === '/search/held') heldSeen = true;
      res.end('ok');
    });
    const fleet = await spawnFleet(3, up.url, redis.url, { name: 'ps', fleet: NO_RESYNC });
    const [a, b, c] = fleet as [(typeof fleet)[0], (typeof fleet)[0], (typeof fleet)[0]];
    await connected(fleet);

    const created = await api(a.adminUrl, 'POST', '/chaos/sessions', errorSession);
    const s1 = created.json.id as string;
    await api(a.adminUrl, 'POST', `/chaos/sessions/${s1}/start`);
    for (const x of [b, c]) {
      await until(async () => (await hit(x.url)).status === 503, 'start via pub/sub', PUBSUB_BOUND_MS);
    }
    await api(c.adminUrl, 'POST', `/chaos/sessions/${s1}/abort`);
    for (const x of [a, b]) {
      await until(async () => !(await hit(x.url)).injected, 'abort via pub/sub', PUBSUB_BOUND_MS);
    }

    // A 60 s latency held in flight on B ends when C aborts its session.
    const s2 = await startEverywhere(a.adminUrl, fleet, holdSession);
    let settled: number | undefined;
    const held = request(`${b.url}/search/held`, { headers: { 'x-agent-id': 'a1' } }).then(async (r) => {
      await r.body.dump();
      settled = r.statusCode;
    });
    // The delay holds the upstream's answer (phase first_byte): the upstream saw the request.
    await until(async () => heldSeen, 'fault held on B');
    expect(settled).toBeUndefined();
    expect((await api(c.adminUrl, 'POST', `/chaos/sessions/${s2}/abort`)).json.state).toBe('aborted');
    await until(async () => settled !== undefined, 'the held request ends', PUBSUB_BOUND_MS);
    await held;
    expect(settled).toBe(200);
    expect(await sessionState(b.adminUrl, s2)).toBe('aborted');

    // A fourth instance, joining while a third session runs, converges at once (its first read).
    const s3 = await startEverywhere(a.adminUrl, fleet, { ...errorSession, name: 'third' });
    const [d] = await spawnFleet(1, up.url, redis.url, { name: 'ps', fleet: NO_RESYNC, first: 3 });
    await until(async () => (await hit(d!.url)).status === 503, 'late joiner injects');
    // Sessions that ended before it joined are not re-created there.
    for (const id of [s1, s2]) expect(await sessionState(d!.adminUrl, id)).toBeUndefined();
    expect(await sessionState(d!.adminUrl, s3)).toBe('running');
    await api(d!.adminUrl, 'POST', '/chaos/abort-all');
    for (const x of fleet) {
      await until(
        async () => (await sessionState(x.adminUrl, s3)) === 'aborted',
        'abort-all',
        PUBSUB_BOUND_MS,
      );
      expect(await hit(x.url)).toEqual({ status: 200, injected: false });
    }
  });
});

describe('fleet mode: Redis away or slow', () => {
  it('a full outcome buffer while Redis is down drops the newest and counts them; requests all succeed', async () => {
    const redis = await startRedis();
    const up = await startUpstream((_req, res) => res.end('ok'));
    const [a] = await spawnFleet(1, up.url, redis.url, { name: 'ob', fleet: ', outcome_buffer: 50' });
    await connected([a!]);
    await redis.stop();
    await until(async () => (await fleetState(a!.adminUrl)).fleet.state === 'degraded', 'degraded');
    const statuses = new Set<number>();
    for (let i = 0; i < 120; i++) statuses.add((await hit(a!.url)).status);
    expect([...statuses]).toEqual([200]);
    expect(await metricSum(a!.adminUrl, 'faultgate_fleet_outcomes_dropped_total')).toBe(70);
    await redis.restart();
    await until(
      async () => (await fleetState(a!.adminUrl)).fleet.state === 'connected',
      'reconnected',
      10_000,
    );
    const { createClient } = await import('redis');
    const client = createClient({ url: redis.url });
    await client.connect();
    // The 50 buffered exchanges reach the stream after the reconnect; the 70 are gone.
    const sent = async () =>
      (await client.xRange('faultgate:ob:outcomes', '-', '+')).reduce((n, e) => n + Number(e.message.n), 0);
    await until(async () => (await sent()) === 50, 'the buffer flushed');
    await client.close();
  });

  it('a Redis answering 2 s late: chaos suspends, requests never wait on it, and resume when it is fast', async () => {
    const redis = await startRedis();
    const slow = await slowRedis(redis.port);
    const up = await startUpstream((_req, res) => res.end('ok'));
    const [a] = await spawnFleet(1, up.url, slow.url, { name: 'slow' });
    await connected([a!]);
    await startEverywhere(a!.adminUrl, [a!], errorSession);
    await until(async () => (await hit(a!.url)).status === 503, 'injection');
    slow.delay = 2000;
    await until(async () => (await fleetState(a!.adminUrl)).fleet.suspended, 'suspended', 10_000);
    expect((await fleetState(a!.adminUrl)).status).toBe(200);
    // Proof that requests do not wait on Redis: a burst completes while no reply came back.
    let proof = false;
    const seen = new Set<string>();
    for (let attempt = 0; attempt < 50 && !proof; attempt++) {
      const before = slow.delivered;
      for (let i = 0; i < 10; i++) seen.add(JSON.stringify(await hit(a!.url)));
      proof = slow.delivered === before;
    }
    expect(proof).toBe(true);
    expect([...seen]).toEqual([JSON.stringify({ status: 200, injected: false })]);
    slow.delay = 0;
    await until(async () => !(await fleetState(a!.adminUrl)).fleet.suspended, 'resumed', 10_000);
    await until(async () => (await hit(a!.url)).status === 503, 'injection again');
  });
});
