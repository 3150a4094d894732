/** A hand-built Report for the renderer tests: several agents and tools, nulls, hostile names. */
import type { AgentRow, Report, TimelineEvent, ToolRow } from '../../src/observe/report-model.js';

export const EVIL_AGENT = 'evil<script>alert("x")</script>&co';
export const EVIL_TOOL = `tool"'|<img src=x onerror=alert(1)>`;
export const LONG_TOOL = 'a-very-long-tool-name-that-keeps-going-and-going-well-past-any-column';
export const WIDE_AGENT = '検索エージェント検索エージェント';

const slo = (avail: number, p99: number | null, mttr: number | null) => ({
  availability: { target: 0.99, actual: avail, ok: avail >= 0.99 },
  latency_p99_ms: { target: 2000, actual: p99, ok: p99 === null || p99 <= 2000 },
  mttr_s: { target: 30, actual: mttr, ok: mttr === null || mttr <= 30 },
});

export function toolRow(tool: string, over: Partial<ToolRow> = {}): ToolRow {
  const base: ToolRow = {
    tool,
    requests: 120,
    failures: 12,
    faults: { http_error: 8, latency: 5, reset: 2 },
    availability: { request: 0.9, effective: 0.9952, nines: 2.32 },
    latency_ms: { p50: 42.5, p99: 1830 },
    incidents: 6,
    recovered: 5,
    unrecovered: 1,
    open: 0,
    recovery_rate: 5 / 6,
    mttr_s: 2.4,
    attempts_mean: 2.6,
    slo: slo(0.9952, 1830, 2.4),
    score: 86.4,
    grade: 'B',
    error_budget_remaining: 0.52,
  };
  return { ...base, ...over };
}

function agentRow(agent: string, tools: ToolRow[], over: Partial<AgentRow> = {}): AgentRow {
  const { tool: _tool, ...rest } = tools[0]!;
  return { ...rest, requests: tools.reduce((n, t) => n + t.requests, 0), ...over, agent, tools };
}

const T0 = Date.parse('2025-03-01T10:00:00.000Z');

function timeline(): TimelineEvent[] {
  const ev: TimelineEvent[] = [];
  const at = (s: number) => T0 + s * 1000;
  for (let s = 0; s < 300; s += 3) ev.push({ at: at(s), agent: 'planner', tool: 'search', kind: 'request' });
  for (let s = 1; s < 300; s += 7)
    ev.push({ at: at(s), agent: EVIL_AGENT, tool: EVIL_TOOL, kind: 'request' });
  ev.push(
    { at: at(30), agent: 'planner', tool: 'search', kind: 'fault', detail: 'http_error' },
    { at: at(30), agent: 'planner', tool: 'search', kind: 'failure' },
    { at: at(30), agent: 'planner', tool: 'search', kind: 'incident_open' },
    { at: at(33), agent: 'planner', tool: 'search', kind: 'failure' },
    { at: at(36), agent: 'planner', tool: 'search', kind: 'recovered', detail: 'retry' },
    { at: at(120), agent: EVIL_AGENT, tool: EVIL_TOOL, kind: 'fault', detail: '<b>truncate</b>' },
    { at: at(120), agent: EVIL_AGENT, tool: EVIL_TOOL, kind: 'failure' },
    { at: at(120), agent: EVIL_AGENT, tool: EVIL_TOOL, kind: 'incident_open' },
    { at: at(180), agent: EVIL_AGENT, tool: EVIL_TOOL, kind: 'unrecovered' },
    { at: at(250), agent: 'planner', tool: 'llm', kind: 'fault', detail: 'sse' },
    { at: at(250), agent: 'planner', tool: 'llm', kind: 'incident_open' },
  );
  return ev;
}

export function sampleReport(): Report {
  const planner = agentRow('planner', [
    toolRow('search'),
    toolRow('llm', { mttr_s: null, recovered: 0, unrecovered: 0, incidents: 1, attempts_mean: null }),
    toolRow(LONG_TOOL, {
      latency_ms: { p50: null, p99: null },
      requests: 0,
      faults: {},
      grade: 'A',
      score: 100,
    }),
  ]);
  const evil = agentRow(
    EVIL_AGENT,
    [toolRow(EVIL_TOOL, { grade: 'F', score: 31.25, error_budget_remaining: -2.5 })],
    {
      grade: 'F',
      score: 31.25,
    },
  );
  const wide = agentRow(WIDE_AGENT, [toolRow('検索', { grade: 'C', score: 74 })], { grade: 'C', score: 74 });
  const { tool: _tool, ...overall } = toolRow('all', { requests: 1_234_567, grade: 'D', score: 61.9 });
  return {
    generated_at: '2025-03-01T10:05:01.000Z',
    span: { from: '2025-03-01T10:00:00.000Z', to: '2025-03-01T10:05:00.000Z' },
    seed: 42,
    config_hash: 'sha256:3f2a9c0d5b7e',
    provisional: false,
    overall,
    agents: [planner, evil, wide],
    findings: [
      {
        kind: 'accepted_broken_response',
        agent: 'planner',
        tool: 'llm',
        count: 14,
        message: 'planner accepted a truncated stream from llm 14 times without retrying',
      },
      {
        kind: 'never_recovered',
        agent: EVIL_AGENT,
        tool: EVIL_TOOL,
        count: 1,
        message: `${EVIL_AGENT} never recovered from 503 on ${EVIL_TOOL} within 60 s`,
      },
      {
        kind: 'ignores_retry_after',
        agent: 'planner',
        tool: 'search',
        count: 3,
        message: 'planner retries search sooner than the injected Retry-After (3 times)',
      },
    ],
    timeline: timeline(),
  };
}

/** A report before any traffic: no agents, no events. */
export function emptyReport(): Report {
  const { tool: _tool, ...overall } = toolRow('all', {
    requests: 0,
    failures: 0,
    faults: {},
    availability: { request: 1, effective: 1, nines: 9 },
    latency_ms: { p50: null, p99: null },
    incidents: 0,
    recovered: 0,
    unrecovered: 0,
    recovery_rate: 1,
    mttr_s: null,
    attempts_mean: null,
    slo: slo(1, null, null),
    score: 100,
    grade: 'A',
    error_budget_remaining: 1,
  });
  return {
    generated_at: '2025-03-01T10:00:00.000Z',
    span: { from: null, to: null },
    seed: null,
    config_hash: 'sha256:0000',
    provisional: false,
    overall,
    agents: [],
    findings: [],
    timeline: [],
  };
}
