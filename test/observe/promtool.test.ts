/**
 * The default scrape passes `promtool check metrics` (Prometheus's own linter) with no warning:
 * counters end in `_total`, nothing else does, process metrics under their standard names.
 * promtool comes from Debian's `prometheus` package (.ci/run installs it when missing).
 */
import { spawn, spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { configYaml, startFaultgate, startUpstream } from '../helpers/index.js';

function promtool(text: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('promtool', ['check', 'metrics'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
    child.stdin.end(text);
  });
}

describe('/metrics and promtool', () => {
  it('a scrape after traffic, faults, incidents and a reload passes promtool check metrics', async () => {
    const found = spawnSync('promtool', ['--version']);
    expect(found.error, 'promtool is missing: apt-get install prometheus (see .ci/run)').toBeUndefined();
    let calls = 0;
    const upstream = await startUpstream((_req, res) => {
      calls++;
      res.writeHead(calls % 3 === 0 ? 502 : 200).end('{}');
    });
    const { url, adminUrl } = await startFaultgate(
      configYaml(
        { upstream: upstream.url },
        `tools: [{ name: search, match: { path: "/search/**" } }]
chaos: { seed: 1 }
experiments:
  - { name: flaky, type: error, probability: 0.5, target: { tools: [search] }, config: { status: 503 } }
`,
      ),
    );
    for (let i = 0; i < 20; i++) {
      const res = await fetch(`${url}/search/q${i}`, { headers: { 'x-agent-id': `agent-${i % 3}` } });
      await res.arrayBuffer();
    }
    await (await fetch(`${adminUrl}/api/v1/reload`, { method: 'POST' })).arrayBuffer();
    const text = await (await fetch(`${adminUrl}/metrics`)).text();
    expect(text).toContain('faultgate_faults_injected_total{');
    expect(text).toContain('faultgate_incidents_total{');
    expect(text).toMatch(/^process_cpu_seconds_total /m);
    expect(text).not.toContain('process_process_');
    const result = await promtool(text);
    expect(result).toEqual({ code: 0, output: '' });
  });
});
