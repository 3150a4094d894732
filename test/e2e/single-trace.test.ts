/**
 * `max_blast_radius: single_trace` (issue 11): the W3C traceparent trace id (or `trace.from`)
 * identifies one agent run; a session locks to the first trace it hits. The trace id shows in
 * the fault log lines and the report's findings. Through a real process.
 */
import { describe, expect, it } from 'vitest';
import { configYaml, startUpstream, waitFor } from '../helpers/index.js';
import { type FaultgateProcess, spawnFaultgate } from '../helpers/process.js';

const T1 = '4bf92f3577b34da6a3ce929d0e0e4736';
const T2 = '0af7651916cd43dd8448eb211c80319c';
/** The trace ids of the `fault injected` lines, once `n` of them arrived from the child's stdout. */
async function tracesLogged(fg: FaultgateProcess, n: number) {
  const lines = () => fg.logs.filter((l) => l.msg === 'fault injected');
  await waitFor(() => lines().length >= n, 10_000, 'fault log lines');
  return lines().map((l) => l.trace);
}

const parent = (trace: string, span: string) => `00-${trace}-${span}-01`;

async function send(fg: FaultgateProcess, headers: Record<string, string> = {}) {
  const res = await fetch(`${fg.url}/x`, { headers });
  await res.arrayBuffer();
  return res.headers.has('x-faultgate-injected');
}

describe('single_trace blast radius', () => {
  it('locks to the first traceparent it hits; other runs and untraced requests pass', async () => {
    const up = await startUpstream((_req, res) => res.end('ok'));
    const fg = await spawnFaultgate(
      configYaml(
        { upstream: up.url },
        `experiments:
  - name: slowdown
    type: rate_limit
    probability: 1
    config: { retry_after_s: 30 }
safety: { max_blast_radius: single_trace, max_affected_requests: 0 }
`,
      ),
    );
    expect(await send(fg)).toBe(false); // no trace id: cannot be told apart from another run
    expect(await send(fg, { traceparent: parent(T1, '00f067aa0ba902b7') })).toBe(true);
    expect(await send(fg, { traceparent: parent(T2, '00f067aa0ba902b8') })).toBe(false);
    // Same run, another span (and the agent retries at once, ignoring Retry-After).
    expect(await send(fg, { traceparent: parent(T1, '00f067aa0ba902b9') })).toBe(true);
    expect(await send(fg, { traceparent: 'garbage' })).toBe(false);

    expect(await tracesLogged(fg, 2)).toEqual([T1, T1]);
    const report = (await (await fetch(`${fg.adminUrl}/api/v1/report?format=json`)).json()) as {
      findings: { kind: string; trace?: string }[];
    };
    const finding = report.findings.find((f) => f.kind === 'ignores_retry_after');
    expect(finding).toMatchObject({ trace: T1 });
  });

  it('trace.from names another header, used as it is', async () => {
    const up = await startUpstream((_req, res) => res.end('ok'));
    const fg = await spawnFaultgate(
      configYaml(
        { upstream: up.url },
        `trace: { from: ["header:x-run-id"] }
experiments:
  - name: boom
    type: error
    probability: 1
    config: { status: [503] }
safety: { max_blast_radius: single_trace, max_affected_requests: 0 }
`,
      ),
    );
    expect(await send(fg, { traceparent: parent(T1, '00f067aa0ba902b7') })).toBe(false);
    expect(await send(fg, { 'x-run-id': 'run-7' })).toBe(true);
    expect(await send(fg, { 'x-run-id': 'run-8' })).toBe(false);
    expect(await send(fg, { 'x-run-id': 'run-7' })).toBe(true);
    expect(await tracesLogged(fg, 2)).toEqual(['run-7', 'run-7']);
  });
});
