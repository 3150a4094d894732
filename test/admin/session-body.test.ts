import { describe, expect, it } from 'vitest';
import { parseSessionBody } from '../../src/chaos/session-schema.js';
import { SAFETY_DEFAULTS } from './helpers.js';

const parse = (body: unknown) => parseSessionBody(body, SAFETY_DEFAULTS);

function problems(body: unknown): { path: string; message: string }[] {
  const r = parse(body);
  if (r.ok) throw new Error(`expected problems, got ${JSON.stringify(r.value)}`);
  return r.problems;
}

const paths = (body: unknown) => problems(body).map((p) => p.path);

describe('SPEC shape', () => {
  it('parses a full body, aliases resolved, safety merged with the defaults', () => {
    const r = parse({
      name: 'game-day',
      experiments: [
        { name: 'slow', type: 'latency', probability: 0.5, config: { min_ms: 10, max_ms: 20 } },
        { name: 'down', type: 'tool_unavailable', target: { tools: ['search'] } },
      ],
      targeting: { agent_ids: ['planner'], tool_names: [], tenant_ids: ['acme'], percentage: 0.5 },
      safety: { max_affected_requests: 10, max_blast_radius: 'single_agent' },
      duration_s: 60,
    });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value.name).toBe('game-day');
    expect(r.value.experiments.map((e) => e.type)).toEqual(['latency', 'error']);
    expect(r.value.experiments[1]).toMatchObject({ alias: 'tool_unavailable', config: { status: 503 } });
    expect(r.value.experiments[1]!.target.tools).toEqual(['search']);
    // An empty list, like an absent one, targets everyone.
    expect(r.value.targeting).toEqual({
      agent_ids: ['planner'],
      tool_names: ['*'],
      tenant_ids: ['acme'],
      percentage: 0.5,
    });
    expect(r.value.safety).toEqual({
      ...SAFETY_DEFAULTS,
      max_affected_requests: 10,
      max_blast_radius: 'single_agent',
    });
    expect(r.value.duration_s).toBe(60);
  });

  it('fills defaults for a minimal body', () => {
    const r = parse({ name: 'x', experiments: [{ name: 'e', type: 'close' }] });
    expect(r.ok && r.value).toMatchObject({
      targeting: { agent_ids: ['*'], tool_names: ['*'], tenant_ids: ['*'], percentage: 1 },
      safety: SAFETY_DEFAULTS,
      duration_s: null,
    });
  });

  it('lists every problem with its path', () => {
    const found = problems({
      experiments: [
        { name: 'a', type: 'latency', config: { min_ms: 500, max_ms: 100 } },
        { name: 'a', type: 'nope' },
        { name: 'c', type: 'error', config: { status: 99, colour: 'red' }, probability: 2 },
        'not an object',
      ],
      targeting: { percentage: 1.5, agents: ['x'], agent_ids: 'planner' },
      safety: { max_blast_radius: 'everyone', max_active_faults: -1, surprise: true },
      duration_s: -5,
      extra: 1,
    });
    const byPath = Object.fromEntries(found.map((p) => [p.path, p.message]));
    expect(Object.keys(byPath).sort()).toEqual(
      [
        'name',
        'extra',
        'duration_s',
        'experiments[0].config.max_ms',
        'experiments[1].name',
        'experiments[1].type',
        'experiments[2].config.status',
        'experiments[2].config.colour',
        'experiments[2].probability',
        'experiments[3]',
        'targeting.percentage',
        'targeting.agents',
        'targeting.agent_ids',
        'safety.max_blast_radius',
        'safety.max_active_faults',
        'safety.surprise',
      ].sort(),
    );
    expect(byPath['experiments[0].config.max_ms']).toMatch(/min_ms must be <= max_ms/);
    expect(byPath['experiments[1].name']).toMatch(/duplicate experiment name "a"/);
    expect(byPath['experiments[1].type']).toMatch(/unknown fault type "nope"/);
    expect(byPath.extra).toBe('unknown key');
    expect(byPath['safety.surprise']).toBe('unknown key');
    expect(byPath['targeting.percentage']).toMatch(/fraction 0\.\.1/);
  });

  it('needs at least one experiment, and a JSON object at all', () => {
    expect(paths({ name: 'x', experiments: [] })).toEqual(['experiments']);
    expect(paths({ name: 'x' })).toEqual(['experiments']);
    expect(problems([1, 2])).toEqual([{ path: '(root)', message: 'expected a JSON object' }]);
    expect(paths(null)).toEqual(['(root)']);
    expect(paths({ name: 'x', experiments: [{ name: 'e', type: 'close' }], safety: 3 })).toEqual(['safety']);
  });
});

describe('Pisama shape', () => {
  it('accepts one experiment at the top level as it is', () => {
    const r = parse({ type: 'latency', config: { min_ms: 500, max_ms: 2000 }, probability: 0.3 });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value.name).toBe('latency');
    expect(r.value.experiments).toHaveLength(1);
    expect(r.value.experiments[0]).toMatchObject({
      name: 'latency',
      type: 'latency',
      probability: 0.3,
      config: { min_ms: 500, max_ms: 2000, pattern: 'uniform' },
      target: { tools: ['*'], agents: ['*'], tenants: ['*'], percentage: 1 },
    });
    expect(r.value.safety).toEqual(SAFETY_DEFAULTS);
    expect(r.value.duration_s).toBeNull();
  });

  it('takes upper-case enum values and safety keys, targeting at the top level or nested', () => {
    const r = parse({
      name: 'outage',
      type: 'TOOL_UNAVAILABLE',
      agent_ids: ['planner'],
      targeting: { tool_names: ['search'], percentage: 0.25 },
      tenant_ids: ['acme'],
      safety: { MAX_BLAST_RADIUS: 'SINGLE_TENANT', Max_Affected_Requests: 5, auto_abort_on_cascade: false },
      duration_s: 30,
    });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value.name).toBe('outage');
    expect(r.value.experiments[0]).toMatchObject({
      name: 'outage',
      type: 'error',
      alias: 'tool_unavailable',
    });
    expect(r.value.targeting).toEqual({
      agent_ids: ['planner'],
      tool_names: ['search'],
      tenant_ids: ['acme'],
      percentage: 0.25,
    });
    expect(r.value.safety).toEqual({
      ...SAFETY_DEFAULTS,
      max_blast_radius: 'single_tenant',
      max_affected_requests: 5,
      auto_abort_on_cascade: false,
    });
    expect(r.value.duration_s).toBe(30);
  });

  it('accepts the same safety key in both cases when the values agree', () => {
    const r = parse({
      type: 'close',
      safety: { max_blast_radius: 'single_agent', MAX_BLAST_RADIUS: 'SINGLE_AGENT' },
    });
    expect(r.ok && r.value.safety.max_blast_radius).toBe('single_agent');
    expect(
      problems({
        type: 'close',
        safety: { max_blast_radius: 'single_agent', MAX_BLAST_RADIUS: 'multi_tenant' },
      }),
    ).toEqual([{ path: 'safety.MAX_BLAST_RADIUS', message: 'conflicts with safety.max_blast_radius' }]);
  });

  it('lists every problem with its path, keys named as written', () => {
    const found = problems({
      type: 'latency',
      config: { min_ms: 500, max_ms: 100, speed: 1 },
      probability: 1.5,
      agent_ids: ['a'],
      targeting: { agent_ids: ['b'], tool_names: 'search', bogus: 1 },
      percentage: 2,
      safety: { MAX_BLAST_RADIUS: 'GALAXY', CASCADE_THRESHOLD: 'lots' },
      duration_s: 0,
      colour: 'red',
    });
    const byPath = Object.fromEntries(found.map((p) => [p.path, p.message]));
    expect(Object.keys(byPath).sort()).toEqual(
      [
        'config.max_ms',
        'config.speed',
        'probability',
        'targeting.agent_ids',
        'targeting.tool_names',
        'targeting.bogus',
        'percentage',
        'safety.MAX_BLAST_RADIUS',
        'safety.CASCADE_THRESHOLD',
        'duration_s',
        'colour',
      ].sort(),
    );
    expect(byPath['targeting.agent_ids']).toMatch(/give it once/);
    expect(byPath['safety.MAX_BLAST_RADIUS']).toMatch(/single_request/);
  });

  it('reports an unknown type at `type`', () => {
    expect(problems({ type: 'meteor' })).toEqual([
      { path: 'type', message: expect.stringMatching(/unknown fault type "meteor"/) },
    ]);
  });
});
