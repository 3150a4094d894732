import { request } from 'undici';
import { describe, expect, it } from 'vitest';
import { SeededRng } from '../../src/chaos/rng.js';
import { latencyFault } from '../../src/faults/latency.js';
import type { FaultContext } from '../../src/faults/types.js';
import { configYaml, startFaultgate, startUpstream } from '../helpers/index.js';

/** Tools in two dialects whose error answers carry a request id, with an error always injected. */
const config = (seed: number) => `chaos: { seed: ${seed} }
agents: { from: [header:x-agent-id], default: anon }
tools:
  - { name: oa, match: { path: "/oa/**" }, format: openai }
  - { name: an, match: { path: "/an/**" }, format: anthropic }
experiments:
  - { name: boom, type: error, probability: 1, target: { tools: [oa, an] }, config: { status: [500, 502, 503] } }
`;

const sequence = [
  ['a1', '/oa/v1/chat'],
  ['a1', '/an/v1/messages'],
  ['a2', '/oa/v1/chat'],
  ['a1', '/oa/v1/chat'],
  ['a2', '/an/v1/messages'],
] as const;

/** Status, id header and body of each request of the sequence, sent one after the other. */
async function run(seed: number): Promise<string[]> {
  const up = await startUpstream((_req, res) => res.end('upstream'));
  const fg = await startFaultgate(configYaml({ upstream: up.url }, config(seed)));
  const seen: string[] = [];
  for (const [agent, path] of sequence) {
    const res = await request(`${fg.url}${path}`, { headers: { 'x-agent-id': agent } });
    const id = res.headers['x-request-id'] ?? res.headers['request-id'];
    seen.push(`${res.statusCode} ${id} ${await res.body.text()}`);
  }
  return seen;
}

describe('seeded runs repeat fault answers byte for byte', () => {
  it('derives dialect request ids from the seeded stream: same seed, same ids; another seed, other ids', async () => {
    const first = await run(42);
    const again = await run(42);
    expect(again).toEqual(first);
    const ids = first.map((line) => line.split(' ')[1]);
    for (const id of ids) expect(id).toMatch(/^req_[0-9a-f]{32}$/);
    expect(new Set(ids).size).toBe(ids.length);
    const other = (await run(43)).map((line) => line.split(' ')[1]);
    for (const id of other) expect(ids).not.toContain(id);
  });
});

describe('degrading latency', () => {
  /** A context whose sleep records the delay and returns at once (an injected clock). */
  function context(agent: string, tool: string, slept: number[]): FaultContext {
    return {
      agent,
      tool,
      rng: new SeededRng(1),
      sleep: async (ms: number) => {
        slept.push(ms);
        return true;
      },
    } as Partial<FaultContext> as FaultContext;
  }

  it('grows per (agent, tool), as decisions are keyed, not across agents', async () => {
    const fault = latencyFault.create(
      latencyFault.schema.parse({ pattern: 'degrading', min_ms: 100, max_ms: 100, degrade_factor: 2 }),
    );
    const slept: number[] = [];
    const call = (agent: string, tool: string) => fault.request!(context(agent, tool, slept));
    await call('a', 'search');
    await call('a', 'search');
    await call('a', 'search');
    await call('b', 'search');
    await call('a', 'fetch');
    await call('b', 'search');
    await call('a', 'search');
    expect(slept).toEqual([100, 200, 400, 100, 100, 200, 800]);
  });
});
