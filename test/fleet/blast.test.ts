import { describe, expect, it } from 'vitest';
import { startUpstream } from '../helpers/index.js';
import { startRedis } from '../helpers/redis.js';
import { connected, errorSession, hit, sessionState, spawnFleet, startEverywhere, until } from './helpers.js';

const AGENTS = ['a1', 'a2', 'a3', 'a4', 'a5', 'a6'];

/** Three instances on one Redis, running an error session with `radius` started on all of them. */
async function blastFleet(name: string, radius: string) {
  const redis = await startRedis();
  const up = await startUpstream((_req, res) => res.end('ok'));
  const fleet = await spawnFleet(3, up.url, redis.url, { name });
  await connected(fleet);
  const body = { ...errorSession, safety: { ...errorSession.safety, max_blast_radius: radius } };
  const id = await startEverywhere(fleet[0]!.adminUrl, fleet, body);
  return { redis, fleet, id };
}

describe('fleet mode: blast radius counted across the fleet (three processes)', () => {
  it('single_agent: however the agents spread over the instances, exactly one agent gets faults', async () => {
    const { redis, fleet, id } = await blastFleet('blast', 'single_agent');
    const hitAgents = new Map<string, number>();
    const injectedOn = new Set<number>();
    const count = (i: number, agent: string, r: { injected: boolean }) => {
      if (!r.injected) return;
      hitAgents.set(agent, (hitAgents.get(agent) ?? 0) + 1);
      injectedOn.add(i);
    };
    // First each instance sees its own agent only: per-instance locks would lock three agents.
    const own = async () => {
      await Promise.all(fleet.map(async (x, i) => count(i, AGENTS[i]!, await hit(x.url, AGENTS[i]!))));
      return hitAgents.size > 0;
    };
    await until(own, 'the first injection');
    for (let i = 0; i < 10; i++) await own();
    // Then every agent on every instance, concurrently, until each instance has injected some.
    const round = async () => {
      await Promise.all(
        fleet.flatMap((x, i) => AGENTS.map(async (agent) => count(i, agent, await hit(x.url, agent)))),
      );
      return injectedOn.size === fleet.length;
    };
    await until(round, 'every instance injects for the locked agent');
    for (let i = 0; i < 20; i++) await round();
    // The bound: one agent fleet-wide, never a second one (zero overshoot).
    expect([...hitAgents.keys()]).toHaveLength(1);
    const { createClient } = await import('redis');
    const client = createClient({ url: redis.url });
    await client.connect();
    expect(await client.hGet('faultgate:blast:blast', id)).toBe([...hitAgents.keys()][0]);
    await client.close();
    for (const x of fleet) expect(await sessionState(x.adminUrl, id)).toBe('running');
  });

  it('single_request: one request of the whole fleet gets the fault, then the session completes everywhere', async () => {
    const { fleet, id } = await blastFleet('single', 'single_request');
    let injected = 0;
    const round = async () => {
      const rs = await Promise.all(fleet.flatMap((x) => AGENTS.map((a) => hit(x.url, a))));
      injected += rs.filter((r) => r.injected).length;
    };
    for (const x of fleet) {
      await until(async () => {
        await round();
        return (await sessionState(x.adminUrl, id)) === 'completed';
      }, 'completed everywhere');
    }
    for (let i = 0; i < 5; i++) await round();
    expect(injected).toBe(1);
  });
});
