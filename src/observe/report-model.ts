/**
 * The report's data model (SPEC section 8), built by the recovery tracker and rendered by the
 * json, markdown, html and terminal formatters.
 */
export interface SloCheck {
  target: number;
  /** null when there is nothing to measure yet (no incidents for MTTR, no responses for p99). */
  actual: number | null;
  ok: boolean;
}

export interface ToolRow {
  tool: string;
  requests: number;
  failures: number;
  /** Injected faults by type. */
  faults: Record<string, number>;
  availability: {
    request: number;
    effective: number;
    /** -log10(1 - effective), capped at 9 (a perfect run). */
    nines: number;
  };
  latency_ms: { p50: number | null; p99: number | null };
  incidents: number;
  recovered: number;
  /** Incidents closed without a success within the window (or when `faultgate run`'s command exited). */
  unrecovered: number;
  /**
   * Incidents still open when the report was taken. They count as unrecovered in effective
   * availability, recovery rate, error budget, score and grade, and make the report provisional.
   */
  open: number;
  /** recovered / (recovered + unrecovered + open); 1 with no incident. */
  recovery_rate: number;
  mttr_s: number | null;
  attempts_mean: number | null;
  slo: { availability: SloCheck; latency_p99_ms: SloCheck; mttr_s: SloCheck };
  score: number;
  grade: 'A' | 'B' | 'C' | 'D' | 'F';
  error_budget_remaining: number;
}

export interface AgentRow extends Omit<ToolRow, 'tool'> {
  agent: string;
  tools: ToolRow[];
}

export interface Finding {
  kind: 'accepted_broken_response' | 'ignores_retry_after' | 'never_recovered';
  agent: string;
  tool: string;
  count: number;
  /** A sentence a person can act on, e.g. "planner accepted a truncated stream from llm 14 times without retrying". */
  message: string;
  /** The trace id (`trace.from`) of the latest agent run where it happened, when requests carried one. */
  trace?: string;
}

/** One point of the timeline (bounded ring of recent events). */
export interface TimelineEvent {
  /** Epoch ms. An exchange (`request` = a success, `failure`) and its `fault`s sit at its end. */
  at: number;
  agent: string;
  tool: string;
  kind: 'request' | 'failure' | 'fault' | 'incident_open' | 'recovered' | 'unrecovered';
  /**
   * Fault type for `fault`, recovery kind (retry|fallback) for `recovered`, the status (or the
   * failure kind when the client got none, e.g. `transport`) for `failure`.
   */
  detail?: string;
}

export interface Report {
  generated_at: string;
  span: { from: string | null; to: string | null };
  seed: number | null;
  config_hash: string;
  /** True while incidents are open: the numbers may still improve if the agent recovers. */
  provisional: boolean;
  overall: Omit<ToolRow, 'tool'>;
  agents: AgentRow[];
  findings: Finding[];
  timeline: TimelineEvent[];
}

export type ReportFormat = 'json' | 'markdown' | 'html' | 'terminal';
