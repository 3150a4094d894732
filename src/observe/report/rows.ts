/**
 * The table shape shared by the markdown and html formats: one column list, so both formats
 * always show the same numbers under the same headings.
 */
import type { Report, ToolRow } from '../report-model.js';
import * as f from './format.js';

export type Metrics = Omit<ToolRow, 'tool'>;

export interface Column {
  head: string;
  /** Right-aligned (numbers). */
  num: boolean;
  cell(row: Metrics): string;
}

const col = (head: string, num: boolean, cell: (row: Metrics) => string): Column => ({ head, num, cell });

/** Per agent x tool and rolled up: everything of SPEC section 8 except the SLO checks (own table). */
export const COLUMNS: readonly Column[] = [
  col('requests', true, (r) => f.count(r.requests)),
  col('failures', true, (r) => f.count(r.failures)),
  col('faults', false, (r) => f.faults(r.faults)),
  col('request avail.', true, (r) => f.pct(r.availability.request)),
  col('effective avail.', true, (r) => f.pct(r.availability.effective)),
  col('nines', true, (r) => f.nines(r.availability.nines)),
  col('p50', true, (r) => f.ms(r.latency_ms.p50)),
  col('p99', true, (r) => f.ms(r.latency_ms.p99)),
  col('incidents', true, (r) => f.count(r.incidents)),
  col('recovered', true, (r) => f.count(r.recovered)),
  col('unrecovered', true, (r) => f.count(r.unrecovered)),
  col('open', true, (r) => f.count(r.open ?? 0)),
  col('recovery rate', true, (r) => f.pct(r.recovery_rate, 1)),
  col('MTTR', true, (r) => f.seconds(r.mttr_s)),
  col('attempts', true, (r) => f.attempts(r.attempts_mean)),
  col('error budget', true, (r) => f.budget(r.error_budget_remaining)),
  col('score', true, (r) => f.score(r.score)),
  col('grade', false, (r) => r.grade),
];

/** A row of the SLO table: the scope's names and its three checks. */
export interface SloRow {
  agent: string;
  tool: string;
  row: Metrics;
}

/** Overall first, then each agent's roll-up followed by its tools. */
export function sloRows(report: Report): SloRow[] {
  const rows: SloRow[] = [{ agent: 'all', tool: 'all', row: report.overall }];
  for (const a of report.agents) {
    rows.push({ agent: a.agent, tool: 'all', row: a });
    for (const t of a.tools) rows.push({ agent: a.agent, tool: t.tool, row: t });
  }
  return rows;
}

/**
 * The provisional mark's sentence, or null for a final report: open incidents count as
 * unrecovered until a success closes them (the grade may rise) or the window ends.
 */
export function provisionalNote(report: Report): string | null {
  const open = report.overall.open ?? 0;
  if (!report.provisional && open === 0) return null;
  const n = open === 1 ? '1 incident is' : `${open} incidents are`;
  return `PROVISIONAL: ${n} still open and counted as unrecovered; the numbers are final once they recover or expire`;
}

export const FINDING_LABELS: Record<string, string> = {
  accepted_broken_response: 'accepted a broken response',
  ignores_retry_after: 'ignores Retry-After',
  never_recovered: 'never recovered',
};
