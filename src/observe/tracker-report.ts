/** Builds SPEC section 8's report model from the tracker's per-(agent, tool) state. */
import type { AgentRow, Finding, Report, TimelineEvent, ToolRow } from './report-model.js';
import { type KeyState, Totals } from './tracker-key.js';
import { acceptedMessage, neverRecoveredMessage, retryAfterMessage } from './tracker-retries.js';
import { buildRow, type Slos } from './tracker-score.js';

export interface ReportMeta {
  seed: number | null;
  configHash: string;
  generatedAt?: Date;
}

export interface ReportInput {
  keys: ReadonlyMap<string, ReadonlyMap<string, KeyState>>;
  slos: Slos;
  /** First startedAt and last endedAt seen (epoch ms), null before the first exchange. */
  span: { from: number; to: number } | null;
  timeline: TimelineEvent[];
  generatedAt: Date;
  meta: ReportMeta;
}

const byName = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

export function buildReport(input: ReportInput): Report {
  const { slos } = input;
  const overall = new Totals();
  const agents: AgentRow[] = [];
  const findings: Finding[] = [];
  for (const agent of [...input.keys.keys()].sort(byName)) {
    const tools = input.keys.get(agent)!;
    const sum = new Totals();
    const rows: ToolRow[] = [];
    for (const tool of [...tools.keys()].sort(byName)) {
      const k = tools.get(tool)!;
      sum.add(k);
      rows.push({ tool, ...buildRow(k, k.faults, k.latency, slos) });
      collectFindings(k, slos, findings);
    }
    overall.add(sum);
    agents.push({ agent, ...buildRow(sum, sum.faults, sum.latency, slos), tools: rows });
  }
  findings.sort(
    (a, b) =>
      b.count - a.count || byName(a.kind, b.kind) || byName(a.agent, b.agent) || byName(a.tool, b.tool),
  );
  const span = input.span;
  return {
    generated_at: (input.meta.generatedAt ?? input.generatedAt).toISOString(),
    span: {
      from: span ? new Date(span.from).toISOString() : null,
      to: span ? new Date(span.to).toISOString() : null,
    },
    seed: input.meta.seed,
    config_hash: input.meta.configHash,
    provisional: overall.open > 0,
    overall: buildRow(overall, overall.faults, overall.latency, slos),
    agents,
    findings,
    timeline: input.timeline,
  };
}

function collectFindings(k: KeyState, slos: Slos, out: Finding[]): void {
  const { agent, tool, watch } = k;
  if (watch.acceptedBroken > 0) {
    out.push({
      kind: 'accepted_broken_response',
      agent,
      tool,
      count: watch.acceptedBroken,
      message: acceptedMessage(agent, tool, watch.acceptedBroken, watch.acceptedWhat),
      ...(watch.acceptedTrace ? { trace: watch.acceptedTrace } : {}),
    });
  }
  if (watch.ignoredRetryAfter > 0) {
    out.push({
      kind: 'ignores_retry_after',
      agent,
      tool,
      count: watch.ignoredRetryAfter,
      message: retryAfterMessage(agent, tool, watch.ignoredRetryAfter),
      ...(watch.ignoredTrace ? { trace: watch.ignoredTrace } : {}),
    });
  }
  if (k.unrecovered > 0) {
    out.push({
      kind: 'never_recovered',
      agent,
      tool,
      count: k.unrecovered,
      message: neverRecoveredMessage(agent, tool, k.unrecovered, slos.recovery_window_s, k.closedAtExit),
    });
  }
}
