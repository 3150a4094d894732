/**
 * The session API takes the config's spelling of targeting, `target{tools, agents, tenants,
 * percentage}`, as well as `targeting{tool_names, agent_ids, tenant_ids, percentage}` (issue 11):
 * one schema, the same errors, the same effect on the wire, through a real process.
 */
import { describe, expect, it } from 'vitest';
import { configYaml, startUpstream } from '../helpers/index.js';
import { type FaultgateProcess, spawnFaultgate } from '../helpers/process.js';

const TOOLS = `tools:
  - name: search
    match: { path: /search }
`;

async function post(fg: FaultgateProcess, path: string, body?: unknown) {
  const res = await fetch(`${fg.adminUrl}${path}`, {
    method: 'POST',
    ...(body === undefined
      ? {}
      : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
  });
  // biome-ignore lint/suspicious/noExplicitAny: test responses are inspected field by field
  const json: any = await res.json();
  return { status: res.status, body: json };
}

async function faulted(fg: FaultgateProcess, path: string, agent: string): Promise<boolean> {
  const res = await fetch(`${fg.url}${path}`, { headers: { 'x-agent-id': agent } });
  await res.arrayBuffer();
  return res.headers.has('x-faultgate-injected');
}

const experiments = [{ name: 'boom', type: 'error', probability: 1, config: { status: [503] } }];

describe('session targeting spellings', () => {
  for (const [spelling, targeting] of [
    ['target', { target: { tools: ['search'], agents: ['a1'] } }],
    ['targeting', { targeting: { tool_names: ['search'], agent_ids: ['a1'] } }],
  ] as const) {
    it(`${spelling}: narrows the session to the tool and agent on the wire`, async () => {
      const up = await startUpstream((_req, res) => res.end('ok'));
      const fg = await spawnFaultgate(configYaml({ upstream: up.url }, TOOLS));
      const created = await post(fg, '/api/v1/chaos/sessions', { name: 'drill', experiments, ...targeting });
      expect(created.status).toBe(201);
      expect(created.body.targeting).toEqual({
        agent_ids: ['a1'],
        tool_names: ['search'],
        tenant_ids: ['*'],
        percentage: 1,
      });
      await post(fg, `/api/v1/chaos/sessions/${created.body.id}/start`);
      expect(await faulted(fg, '/search', 'a1')).toBe(true);
      expect(await faulted(fg, '/search', 'a2')).toBe(false);
      expect(await faulted(fg, '/other', 'a1')).toBe(false);
    });
  }

  it('gives the same errors for both spellings, and refuses both at once', async () => {
    const up = await startUpstream((_req, res) => res.end('ok'));
    const fg = await spawnFaultgate(configYaml({ upstream: up.url }));
    const a = await post(fg, '/api/v1/chaos/sessions', {
      name: 'x',
      experiments,
      target: { tools: 'search', percentage: 50, tool: [] },
    });
    const b = await post(fg, '/api/v1/chaos/sessions', {
      name: 'x',
      experiments,
      targeting: { tool_names: 'search', percentage: 50, tool: [] },
    });
    expect(a.status).toBe(400);
    expect(b.status).toBe(400);
    const messages = (r: typeof a) => r.body.error.problems.map((p: { message: string }) => p.message).sort();
    expect(messages(a)).toEqual(messages(b));
    expect(a.body.error.problems.map((p: { path: string }) => p.path).sort()).toEqual([
      'target.percentage',
      'target.tool',
      'target.tools',
    ]);
    const both = await post(fg, '/api/v1/chaos/sessions', {
      name: 'x',
      experiments,
      target: { tools: ['search'] },
      targeting: { tool_names: ['search'] },
    });
    expect(both.status).toBe(400);
    expect(both.body.error.problems).toEqual([
      { path: 'target', message: 'give target or targeting, not both' },
    ]);
  });
});
