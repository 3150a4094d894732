import { request } from 'undici';
import { describe, expect, it } from 'vitest';
import {
  configYaml,
  scrape,
  startFaultgate,
  startUpstream,
  waitFor,
  waitForValue,
} from '../helpers/index.js';

const setup = `chaos: { header_overrides: true, seed: 3 }
metrics: { detail: full }
agents: { from: ["header:x-agent-id"] }
tools:
  - { name: search, match: { path: "/search/**" } }
  - { name: llm, match: { path: "/v1/**" }, format: openai }
  - { name: web, match: { path: "/web/**" }, fallback_for: [search] }
slos: { availability: 0.99, latency_p99_ms: 2000, mttr_s: 30, recovery_window_s: 0.5 }
`;

async function instance() {
  const up = await startUpstream((req, res) => {
    if (req.url?.startsWith('/v1/stream')) {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: {"i":1}\n\n');
      res.write('data: {"i":2}\n\n');
      res.end('data: [DONE]\n\n');
      return;
    }
    res.end('{"ok":true}');
  });
  return startFaultgate(configYaml({ upstream: up.url }, setup));
}

/** One request of agent `agent`; `fault` forces a fault on it. Resolves with the status (0: broken). */
async function call(url: string, agent: string, path: string, fault?: string): Promise<number> {
  try {
    const res = await request(`${url}${path}`, {
      headers: { 'x-agent-id': agent, ...(fault ? { 'x-faultgate-fault': fault } : {}) },
    });
    await res.body.text();
    return res.statusCode;
  } catch {
    return 0;
  }
}

describe('recovery analytics end to end', () => {
  it('counts incidents, retries, fallbacks and unrecovered incidents exactly', async () => {
    const { url, adminUrl, fg } = await instance();
    // planner / search: 503, 429, then success: one incident, recovered by retry in 3 attempts.
    expect(await call(url, 'planner', '/search/q', 'error;status=503')).toBe(503);
    expect(await call(url, 'planner', '/search/q', 'rate_limit;retry_after_s=0')).toBe(429);
    expect(await call(url, 'planner', '/search/q')).toBe(200);
    // coder / search: 503, then a success on the fallback tool `web`.
    expect(await call(url, 'coder', '/search/q', 'error;status=503')).toBe(503);
    expect(await call(url, 'coder', '/web/q')).toBe(200);
    // planner / llm: 502 and the agent gives up: unrecovered when the window ends.
    expect(await call(url, 'planner', '/v1/chat', 'error;status=502')).toBe(502);
    // The recovery window (0.5 s) ends: wait for the metric that says so, not a fixed sleep.
    const m = await waitForValue(
      () => scrape(adminUrl),
      (m) => m.get('faultgate_unrecovered_incidents_total{agent="planner",tool="llm"}') === 1,
      5000,
      'the llm incident to end unrecovered',
    );
    expect(m.get('faultgate_incidents_total{agent="planner",tool="search"}')).toBe(1);
    expect(m.get('faultgate_recoveries_total{agent="planner",tool="search",kind="retry"}')).toBe(1);
    expect(m.get('faultgate_recovery_attempts_count{agent="planner",tool="search"}')).toBe(1);
    expect(m.get('faultgate_recovery_attempts_sum{agent="planner",tool="search"}')).toBe(3);
    expect(m.get('faultgate_recoveries_total{agent="coder",tool="search",kind="fallback"}')).toBe(1);
    expect(m.get('faultgate_incidents_total{agent="planner",tool="llm"}')).toBe(1);
    expect(m.get('faultgate_unrecovered_incidents_total{agent="planner",tool="llm"}')).toBe(1);
    expect(m.get('faultgate_availability_ratio{agent="planner",tool="search",kind="request"}')).toBeCloseTo(
      1 / 3,
      5,
    );
    expect(m.get('faultgate_availability_ratio{agent="planner",tool="search",kind="effective"}')).toBe(1);
    expect(m.get('faultgate_availability_ratio{agent="planner",tool="llm",kind="effective"}')).toBe(0);

    const report = fg.report()!;
    const planner = report.agents.find((a) => a.agent === 'planner')!;
    const search = planner.tools.find((t) => t.tool === 'search')!;
    expect(search).toMatchObject({
      requests: 3,
      failures: 2,
      incidents: 1,
      recovered: 1,
      unrecovered: 0,
      attempts_mean: 3,
    });
    expect(search.faults).toEqual({ error: 1, rate_limit: 1 });
    const llm = planner.tools.find((t) => t.tool === 'llm')!;
    expect(llm).toMatchObject({ incidents: 1, recovered: 0, unrecovered: 1 });
    expect(report.seed).toBe(3);
    expect(
      report.findings.some((f) => f.kind === 'never_recovered' && f.agent === 'planner' && f.tool === 'llm'),
    ).toBe(true);
  });

  it('finds a truncated stream accepted without a retry, and retries sooner than Retry-After', async () => {
    const { url, fg } = await instance();
    // A broken stream, then a different request (not a retry).
    expect(
      await call(url, 'planner', '/v1/stream', 'sse;action=truncate;after_events=1'),
    ).toBeGreaterThanOrEqual(0);
    expect(await call(url, 'planner', '/v1/other')).toBe(200);
    // A 429 asking for 2 s, retried at once.
    expect(await call(url, 'coder', '/search/q', 'rate_limit;retry_after_s=2')).toBe(429);
    expect(await call(url, 'coder', '/search/q')).toBe(200);
    await waitFor(() => (fg.report()?.findings.length ?? 0) >= 2, 5000, 'findings');
    const kinds = fg.report()!.findings.map((f) => `${f.kind}:${f.agent}:${f.tool}`);
    expect(kinds).toContain('accepted_broken_response:planner:llm');
    expect(kinds).toContain('ignores_retry_after:coder:search');
  });
});
