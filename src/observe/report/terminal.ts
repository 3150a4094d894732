/**
 * The terminal report: fits in 100 columns (names and fault lists are cut with "…"), ANSI
 * colour only when asked (the CLI asks when stdout is a TTY). Colour is applied after padding,
 * so it never changes a column's width.
 */
import type { Report, SloCheck } from '../report-model.js';
import * as f from './format.js';
import { FINDING_LABELS, type Metrics, provisionalNote } from './rows.js';
import { displayWidth, pad, wrap } from './text-width.js';

export const TERMINAL_WIDTH = 100;

type Paint = (code: 'bold' | 'dim' | 'green' | 'yellow' | 'red', s: string) => string;

const ANSI = { bold: [1, 22], dim: [2, 22], green: [32, 39], yellow: [33, 39], red: [31, 39] } as const;
const painter =
  (color: boolean): Paint =>
  (code, s) =>
    color ? `\x1b[${ANSI[code][0]}m${s}\x1b[${ANSI[code][1]}m` : s;

const gradeColor = (g: string) => (g === 'A' || g === 'B' ? 'green' : g === 'C' ? 'yellow' : 'red');

interface Col {
  head: string;
  width: number;
  cell(row: Metrics): string;
}

const NAME = 22;

/** 22 + 12 columns + separators = 97 columns. */
const MAIN: readonly Col[] = [
  { head: 'REQS', width: 6, cell: (r) => f.compactCount(r.requests) },
  { head: 'REQ%', width: 7, cell: (r) => f.pct(r.availability.request) },
  { head: 'EFF%', width: 7, cell: (r) => f.pct(r.availability.effective) },
  { head: 'NINES', width: 5, cell: (r) => f.nines(r.availability.nines) },
  { head: 'P50', width: 6, cell: (r) => f.compactMs(r.latency_ms.p50) },
  { head: 'P99', width: 6, cell: (r) => f.compactMs(r.latency_ms.p99) },
  { head: 'INC', width: 5, cell: (r) => f.compactCount(r.incidents) },
  { head: 'REC%', width: 5, cell: (r) => f.pct(r.recovery_rate, 0) },
  { head: 'MTTR', width: 6, cell: (r) => f.compactMs(r.mttr_s === null ? null : r.mttr_s * 1000) },
  { head: 'ATT', width: 4, cell: (r) => f.attempts(r.attempts_mean) },
  { head: 'SCORE', width: 5, cell: (r) => f.score(r.score) },
];

const SLO_WIDTH = { availability: 9, latency_p99_ms: 8, mttr_s: 8 } as const;
const BUDGET = 9;
const FAULTS =
  TERMINAL_WIDTH - NAME - SLO_WIDTH.availability - SLO_WIDTH.latency_p99_ms - SLO_WIDTH.mttr_s - BUDGET - 5;

interface Line {
  name: string;
  row: Metrics;
  strong: boolean;
}

function linesOf(report: Report): Line[] {
  const out: Line[] = [{ name: 'overall', row: report.overall, strong: true }];
  for (const a of report.agents) {
    out.push({ name: f.cleanName(a.agent), row: a, strong: true });
    for (const t of a.tools) out.push({ name: `  ${f.cleanName(t.tool)}`, row: t, strong: false });
  }
  return out;
}

function mainTable(lines: Line[], paint: Paint): string[] {
  const head = [pad('AGENT / TOOL', NAME), ...MAIN.map((c) => pad(c.head, c.width, true)), 'G'].join(' ');
  const rows = lines.map(({ name, row, strong }) => {
    const cells = [pad(name, NAME), ...MAIN.map((c) => pad(c.cell(row), c.width, true))].join(' ');
    // `*`: the row has open incidents, judged unrecovered for now (see the PROVISIONAL line).
    const g = paint(gradeColor(row.grade), row.open ? `${row.grade}*` : row.grade);
    return `${strong ? paint('bold', cells) : cells} ${g}`;
  });
  return [paint('dim', head), ...rows];
}

/** Actual value and ✓/✗; the targets are global (config `slos`) and printed once above the tables. */
function sloCell(name: f.SloName, check: SloCheck, paint: Paint): string {
  const actual =
    name === 'availability'
      ? f.pct(check.actual)
      : f.compactMs(name === 'mttr_s' && check.actual !== null ? check.actual * 1000 : check.actual);
  return paint(check.ok ? 'green' : 'red', pad(`${check.ok ? '✓' : '✗'} ${actual}`, SLO_WIDTH[name], true));
}

function sloTable(lines: Line[], paint: Paint): string[] {
  const head = [
    pad('AGENT / TOOL', NAME),
    pad('AVAIL', SLO_WIDTH.availability, true),
    pad('P99', SLO_WIDTH.latency_p99_ms, true),
    pad('MTTR', SLO_WIDTH.mttr_s, true),
    pad('BUDGET', BUDGET, true),
    'FAULTS INJECTED',
  ].join(' ');
  const rows = lines.map(({ name, row, strong }) => {
    const n = pad(name, NAME);
    const checks = f.SLO_NAMES.map((s) => sloCell(s, row.slo[s], paint));
    const budget = pad(f.budget(row.error_budget_remaining, true), BUDGET, true);
    const faults = pad(f.faults(row.faults), FAULTS).trimEnd();
    return [strong ? paint('bold', n) : n, ...checks, budget, faults].join(' ');
  });
  return [paint('dim', head), ...rows];
}

function header(report: Report, paint: Paint): string[] {
  const o = report.overall;
  const s = o.slo;
  const rest = [
    `span ${f.span(report.span.from, report.span.to)}`,
    `seed ${report.seed ?? 'none'}  config ${f.cleanName(report.config_hash)}  generated ${f.cleanName(report.generated_at)}`,
    `SLO targets: availability ≥ ${f.pct(s.availability.target)}, p99 ≤ ${f.ms(s.latency_p99_ms.target)}, MTTR ≤ ${f.seconds(s.mttr_s.target)}`,
  ];
  return [
    // Fixed-width parts only: always under 100 columns.
    `${paint('bold', 'faultgate report')}  grade ${paint(gradeColor(o.grade), o.open ? `${o.grade}*` : o.grade)}  score ${f.score(o.score)}  effective availability ${f.pct(o.availability.effective)} (${f.nines(o.availability.nines)} nines)`,
    ...rest.flatMap((l) => (displayWidth(l) <= TERMINAL_WIDTH ? [l] : wrap(l, TERMINAL_WIDTH, '  '))),
    ...provisional(report, paint),
  ];
}

function provisional(report: Report, paint: Paint): string[] {
  const note = provisionalNote(report);
  if (!note) return [];
  return wrap(`${note} (grades marked *)`, TERMINAL_WIDTH, '  ').map((l) => paint('yellow', l));
}

function findings(report: Report, paint: Paint): string[] {
  const out = [paint('bold', `FINDINGS (${report.findings.length})`)];
  if (report.findings.length === 0) out.push('  none');
  for (const x of report.findings) {
    const label = FINDING_LABELS[x.kind] ?? x.kind;
    const text = `• [${label}] ${f.cleanName(x.message)} (agent ${f.cleanName(x.agent)}, tool ${f.cleanName(x.tool)}, ${x.count}×)`;
    out.push(...wrap(text, TERMINAL_WIDTH - 2, '  ').map((l) => `  ${l}`));
  }
  return out;
}

export function renderTerminal(report: Report, options: { color: boolean }): string {
  const paint = painter(options.color);
  const lines = linesOf(report);
  const out = [
    ...header(report, paint),
    '',
    ...mainTable(lines, paint),
    '',
    ...sloTable(lines, paint),
    '',
    ...findings(report, paint),
  ];
  return `${out.join('\n')}\n`;
}

/** For tests and callers that print next to the report: the widest line, ANSI codes excluded. */
export function widestLine(text: string): number {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: ANSI escape sequences start with ESC.
  const plain = text.replace(/\x1b\[[0-9;]*m/g, '');
  return Math.max(0, ...plain.split('\n').map(displayWidth));
}
