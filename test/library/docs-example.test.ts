// The vitest example of docs/testing-agents.md, run as written (imports aside): keep them in step.
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { type FaultgateHandle, startFaultgate } from '../../src/index.js';

/** The agent: asks the search tool, retries up to 5 times on a failure. */
async function agent(baseUrl: string, query: string): Promise<string> {
  for (let attempt = 1; ; attempt++) {
    const res = await fetch(`${baseUrl}/search?q=${query}`, { headers: { 'x-agent-id': 'planner' } });
    if (res.ok) return res.text();
    if (attempt === 5) throw new Error(`search failed: ${res.status}`);
  }
}

let tool: Server;
let fg: FaultgateHandle;

beforeAll(async () => {
  tool = createServer((req, res) => res.end(`results for ${req.url}`)).listen(0, '127.0.0.1');
  await new Promise((r) => tool.once('listening', r));
  const { port } = tool.address() as { port: number };
  fg = await startFaultgate({
    config: {
      listeners: [{ name: 'api', upstream: `http://127.0.0.1:${port}` }],
      tools: [{ name: 'search', match: { path: '/search' } }],
      chaos: { seed: 42 },
      experiments: [{ name: 'flaky', type: 'error', probability: 0.3, config: { status: [502, 503] } }],
    },
  });
});
afterAll(async () => {
  await fg.close();
  tool.closeAllConnections();
  tool.close();
});

test('the planner hides flaky search from its users', async () => {
  for (let i = 0; i < 50; i++) await agent(fg.baseUrl(), `q${i}`);
  const report = fg.report();
  const search = report.agents.find((a) => a.agent === 'planner')!.tools.find((t) => t.tool === 'search')!;
  expect(search.faults.error).toBeGreaterThan(0); // chaos did happen
  expect(search.availability.effective).toBeGreaterThanOrEqual(0.99);
  expect(report.findings.filter((f) => f.kind === 'accepted_broken_response')).toEqual([]);
});
