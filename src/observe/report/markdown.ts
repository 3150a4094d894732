/** The markdown report: headings, GitHub-flavoured tables and a findings list. */
import type { Finding, Report } from '../report-model.js';
import * as f from './format.js';
import { COLUMNS, FINDING_LABELS, type Metrics, provisionalNote, sloRows } from './rows.js';

/**
 * Agent and tool names come from the network. Backslash-escape everything markdown or a
 * table could read as syntax (CommonMark allows escaping any ASCII punctuation), including
 * `<` and `&` so that renderers which pass raw HTML through cannot be injected.
 */
export function mdText(s: string): string {
  return f.cleanName(s).replace(/[\\`*_[\]<>#|~&]/g, '\\$&');
}

function table(head: string[], numeric: boolean[], rows: string[][]): string {
  const align = numeric.map((n) => (n ? '---:' : '---'));
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [line(head), line(align), ...rows.map(line)].join('\n');
}

function metricsTable(firstHead: string, rows: Array<[string, Metrics]>): string {
  return table(
    [firstHead, ...COLUMNS.map((c) => c.head)],
    [false, ...COLUMNS.map((c) => c.num)],
    rows.map(([name, row]) => [name, ...COLUMNS.map((c) => mdText(c.cell(row)))]),
  );
}

function sloTable(report: Report): string {
  return table(
    ['agent', 'tool', ...f.SLO_NAMES.map((n) => f.SLO_LABELS[n])],
    [false, false, false, false, false],
    sloRows(report).map(({ agent, tool, row }) => [
      agent === 'all' && tool === 'all' ? '**overall**' : mdText(agent),
      tool === 'all' ? '*all*' : mdText(tool),
      ...f.SLO_NAMES.map((n) => mdText(f.sloCheck(n, row.slo[n]))),
    ]),
  );
}

function finding(x: Finding): string {
  const label = FINDING_LABELS[x.kind] ?? x.kind;
  return `- **${mdText(label)}**: ${mdText(x.message)} (agent ${mdText(x.agent)}, tool ${mdText(x.tool)}, ${x.count}×)`;
}

export function renderMarkdown(report: Report): string {
  const o = report.overall;
  const note = provisionalNote(report);
  const out: string[] = [
    '# faultgate report',
    '',
    ...(note ? [`> **${mdText(note)}**`, ''] : []),
    `- **Grade ${o.grade}**, score ${f.score(o.score)}: effective availability ${f.pct(o.availability.effective)} (${f.nines(o.availability.nines)} nines), request availability ${f.pct(o.availability.request)}`,
    `- Span: ${mdText(f.span(report.span.from, report.span.to))}`,
    `- Seed: ${report.seed === null ? 'none (random)' : report.seed}`,
    `- Config hash: \`${f.cleanName(report.config_hash).replace(/`/g, '')}\``,
    `- Generated: ${mdText(report.generated_at)}`,
    '',
    '## Summary',
    '',
    metricsTable('agent', [
      ['**overall**', o],
      ...report.agents.map((a): [string, Metrics] => [mdText(a.agent), a]),
    ]),
  ];
  for (const a of report.agents) {
    out.push(
      '',
      `## Agent ${mdText(a.agent)}: grade ${a.grade}${a.open ? ' (provisional)' : ''}, score ${f.score(a.score)}`,
      '',
    );
    out.push(
      metricsTable('tool', [
        ...a.tools.map((t): [string, Metrics] => [mdText(t.tool), t]),
        ['*all tools*', a],
      ]),
    );
  }
  out.push('', '## SLO checks', '', sloTable(report), '', '## Findings', '');
  if (report.findings.length === 0) out.push('No findings.');
  else out.push(...report.findings.map(finding));
  return `${out.join('\n')}\n`;
}
