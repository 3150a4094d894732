import { readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { scrape, startUpstream } from '../helpers/index.js';
import { startRedis } from '../helpers/redis.js';
import { api, connected, hit, sessionState, spawnFleet, until } from './helpers.js';

const experiments = (status: number, max = 30) => `experiments:
  - { name: boom-${status}, type: error, probability: 1, config: { status: [${status}] } }
safety: { max_affected_requests: ${max} }
`;

describe('fleet mode: share_default', () => {
  it('is accepted by the config schema', () => {
    const yaml = `version: 1\nlisteners: [{ name: m, listen: "127.0.0.1:0" }]\nfleet: { redis: "redis://127.0.0.1:1", share_default: true }\n`;
    const r = parseConfig('t.yaml', yaml, {});
    expect(r.ok && r.config.fleet?.share_default).toBe(true);
  });

  it('the first instance defines default; the fleet shares its budget, abort, resume and reloads', async () => {
    const redis = await startRedis();
    const up = await startUpstream((_req, res) => res.end('ok'));
    const opts = { name: 'sd', fleet: ', share_default: true' };
    const [p0] = await spawnFleet(1, up.url, redis.url, { ...opts, extra: experiments(503) });
    await connected([p0!]);
    await until(async () => (await hit(p0!.url)).status === 503, 'default on p0');
    const [p1] = await spawnFleet(1, up.url, redis.url, { ...opts, extra: experiments(503), first: 1 });
    // p2's config disagrees: the fleet's definition (the first written) runs there.
    const [p2] = await spawnFleet(1, up.url, redis.url, { ...opts, extra: experiments(502), first: 2 });
    const fleet = [p0!, p1!, p2!];
    await connected(fleet);
    await until(
      async () => (await scrape(p2!.adminUrl)).get('faultgate_fleet_default_mismatch_total') === 1,
      'mismatch counted on p2',
    );
    // stdout is written in batches (flushed every 100 ms): wait for the line, not only the metric.
    await until(
      async () => p2!.logs.some((l) => String(l.msg).includes('disagrees with the fleet')),
      'mismatch logged on p2',
    );
    expect((await scrape(p1!.adminUrl)).get('faultgate_fleet_default_mismatch_total')).toBe(0);

    // max_affected_requests: 30 of `default` is counted across the three (block of 2 tokens).
    let injected = 0;
    const other: number[] = [];
    const allAborted = async () => {
      for (const x of fleet) {
        const r = await hit(x.url);
        if (r.injected) injected++;
        if (r.injected && r.status !== 503) other.push(r.status);
      }
      for (const x of fleet) if ((await sessionState(x.adminUrl, 'default')) !== 'aborted') return false;
      return true;
    };
    await until(allAborted, 'default aborted on every instance by the fleet budget', 20_000);
    expect(other).toEqual([]);
    expect(injected).toBeLessThanOrEqual(30 + fleet.length);
    expect(injected).toBeGreaterThanOrEqual(30 - (fleet.length - 1) * 3);
    for (const x of fleet) expect(await hit(x.url)).toEqual({ status: 200, injected: false });

    // A resume anywhere starts a new generation (a fresh budget) of the fleet's definition.
    expect((await api(p2!.adminUrl, 'POST', '/chaos/resume')).status).toBe(200);
    for (const x of fleet) await until(async () => (await hit(x.url)).status === 503, 'resumed');

    // A reload on p1 makes p1's new config the fleet's default everywhere.
    writeFileSync(p1!.file, readFileSync(p1!.file, 'utf8').replace('[503]', '[504]'));
    expect((await api(p1!.adminUrl, 'POST', '/reload')).status).toBe(200);
    for (const x of fleet) await until(async () => (await hit(x.url)).status === 504, 'reloaded everywhere');
    await until(
      async () => (await scrape(p0!.adminUrl)).get('faultgate_fleet_default_mismatch_total') === 1,
      'p0 now disagrees',
    );

    // An operator's abort of `default` on one instance stops it on all.
    expect((await api(p0!.adminUrl, 'POST', '/chaos/sessions/default/abort')).status).toBe(200);
    for (const x of fleet) {
      await until(async () => (await sessionState(x.adminUrl, 'default')) === 'aborted', 'aborted');
      expect(await hit(x.url)).toEqual({ status: 200, injected: false });
    }
  });
});
