/**
 * The html report: one self-contained page (inline CSS and SVG, no script, no external
 * asset; a CSP meta tag forbids both). Every string from the report is escaped: agent and
 * tool names come from the network.
 */
import type { Finding, Report } from '../report-model.js';
import * as f from './format.js';
import { escapeXml as esc } from './format.js';
import { COLUMNS, FINDING_LABELS, type Metrics, provisionalNote, sloRows } from './rows.js';
import { renderTimeline } from './svg-timeline.js';

/** Sent as a header by the admin route too. */
export const HTML_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:";

const CSS = `
:root{color-scheme:light;--fg:#1f2328;--muted:#59636e;--line:#d1d9e0;--bg2:#f6f8fa;
--ok:#1a7f37;--warn:#9a6700;--bad:#cf222e}
*{box-sizing:border-box}
body{margin:0 auto;max-width:1200px;padding:24px;font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:var(--fg)}
h1{font-size:24px;margin:0 0 8px}h2{font-size:18px;margin:32px 0 8px;border-bottom:1px solid var(--line);padding-bottom:4px}
dl.meta{display:grid;grid-template-columns:max-content 1fr;gap:2px 16px;margin:8px 0 16px}
dl.meta dt{color:var(--muted)}dl.meta dd{margin:0}
code{font:12px ui-monospace,SFMono-Regular,Menlo,monospace;background:var(--bg2);padding:1px 4px;border-radius:4px}
.scroll{overflow-x:auto}
table{border-collapse:collapse;font-variant-numeric:tabular-nums;white-space:nowrap}
th,td{border:1px solid var(--line);padding:4px 8px;text-align:left}
th{background:var(--bg2);font-weight:600}
td.num,th.num{text-align:right}
td.name{max-width:260px;overflow:hidden;text-overflow:ellipsis}
tr.total td{font-weight:600;background:#fbfcfd}
.grade{display:inline-block;min-width:1.6em;text-align:center;font-weight:700;border-radius:4px;color:#fff;padding:0 4px}
.grade-A,.grade-B{background:var(--ok)}.grade-C{background:var(--warn)}.grade-D,.grade-F{background:var(--bad)}
.big{font-size:40px;line-height:1.2;padding:4px 18px;border-radius:8px}
.verdict{display:flex;gap:16px;align-items:center;margin:8px 0 12px}.verdict .score{font-size:22px;font-weight:600}
td.ok{color:var(--ok)}td.miss{color:var(--bad);font-weight:600}
ul.findings li{margin:4px 0}.kind{font-weight:600}
.muted{color:var(--muted)}
.provisional{border-left:4px solid var(--warn);background:#fff8c5;padding:6px 10px;margin:8px 0}
svg.timeline{max-width:100%;height:auto;font:12px system-ui,sans-serif}
svg .lane-0{fill:#fff}svg .lane-1{fill:var(--bg2)}svg .lane-label{fill:var(--fg);font-weight:600}
svg .axis,svg .tick{stroke:#8c959f;stroke-width:1}svg .tick{stroke-dasharray:2 3;stroke:#d1d9e0}
svg .tick-label,svg .legend text,svg .empty{fill:var(--muted)}
svg .m-request{fill:#8c959f}
svg .m-fault{fill:#bc4c00}
svg .m-failure{fill:#cf222e}
svg .m-incident_open{fill:#82071e}
svg .m-recovered{fill:#1a7f37;stroke:#fff;stroke-width:1}
svg .m-unrecovered{stroke:#24292f;stroke-width:2.5;fill:none}
svg .band{stroke:none}svg .band-recovered{fill:#1a7f37;fill-opacity:.14}
svg .band-unrecovered{fill:#cf222e;fill-opacity:.16}svg .band-open{fill:#8c959f;fill-opacity:.2}
`;

const grade = (g: string, big = false) =>
  `<span class="grade grade-${esc(g)}${big ? ' big' : ''}">${esc(g)}</span>`;

/** Grade and score right after the name: what a person looks for first, visible without scrolling. */
const FIRST = new Set(['grade', 'score']);
const HTML_COLUMNS = [
  ...COLUMNS.filter((c) => FIRST.has(c.head)).reverse(),
  ...COLUMNS.filter((c) => !FIRST.has(c.head)),
];

function metricsTable(
  firstHead: string,
  rows: Array<{ name: string; row: Metrics; total?: boolean }>,
): string {
  const head = [
    `<th>${firstHead}</th>`,
    ...HTML_COLUMNS.map((c) => `<th${c.num ? ' class="num"' : ''}>${c.head}</th>`),
  ];
  const body = rows.map(({ name, row, total }) => {
    const cells = HTML_COLUMNS.map((c) =>
      c.head === 'grade'
        ? `<td>${grade(row.grade)}</td>`
        : `<td${c.num ? ' class="num"' : ''}>${esc(c.cell(row))}</td>`,
    );
    return `<tr${total ? ' class="total"' : ''}><td class="name" title="${esc(name)}">${esc(name)}</td>${cells.join('')}</tr>`;
  });
  return `<div class="scroll"><table><thead><tr>${head.join('')}</tr></thead><tbody>${body.join('')}</tbody></table></div>`;
}

function sloTable(report: Report): string {
  const head = ['agent', 'tool', ...f.SLO_NAMES.map((n) => f.SLO_LABELS[n])].map((h) => `<th>${h}</th>`);
  const body = sloRows(report).map(({ agent, tool, row }) => {
    const checks = f.SLO_NAMES.map((n) => {
      const check = row.slo[n];
      return `<td class="${check.ok ? 'ok' : 'miss'}">${esc(f.sloCheck(n, check))}</td>`;
    });
    const total = tool === 'all' ? ' class="total"' : '';
    return `<tr${total}><td class="name">${esc(agent)}</td><td class="name">${esc(tool)}</td>${checks.join('')}</tr>`;
  });
  return `<div class="scroll"><table class="slo"><thead><tr>${head.join('')}</tr></thead><tbody>${body.join('')}</tbody></table></div>`;
}

function findings(list: Finding[]): string {
  if (list.length === 0) return '<p class="muted">No findings.</p>';
  const items = list.map((x) => {
    const label = FINDING_LABELS[x.kind] ?? x.kind;
    return `<li><span class="kind">${esc(label)}</span>: ${esc(x.message)} <span class="muted">(agent ${esc(x.agent)}, tool ${esc(x.tool)}, ${x.count}×)</span></li>`;
  });
  return `<ul class="findings">${items.join('')}</ul>`;
}

/** The verdict first: overall grade, score and effective availability, big; then the run's identity. */
function header(report: Report): string {
  const o = report.overall;
  const verdict = `<div class="verdict">${grade(o.grade, true)}<div><div class="score">score ${esc(f.score(o.score))} <span class="muted">/ 100</span></div><div>effective availability ${esc(f.pct(o.availability.effective))} (${esc(f.nines(o.availability.nines))} nines), request availability ${esc(f.pct(o.availability.request))}, error budget ${esc(f.budget(o.error_budget_remaining))}</div></div></div>`;
  const meta: Array<[string, string]> = [
    ['span', esc(f.span(report.span.from, report.span.to))],
    ['seed', report.seed === null ? 'none (random)' : esc(String(report.seed))],
    ['config hash', `<code>${esc(report.config_hash)}</code>`],
    ['generated', esc(report.generated_at)],
  ];
  const dl = meta.map(([k, v]) => `<dt>${k}</dt><dd>${v}</dd>`).join('');
  const note = provisionalNote(report);
  const mark = note ? `<p class="provisional"><strong>${esc(note)}</strong></p>` : '';
  return `<h1>faultgate report</h1>${mark}${verdict}<dl class="meta">${dl}</dl>`;
}

export function renderHtml(report: Report): string {
  const agents = report.agents.map((a) => {
    const rows = [
      ...a.tools.map((t) => ({ name: t.tool, row: t as Metrics })),
      { name: 'all tools', row: a as Metrics, total: true },
    ];
    return `<section class="agent"><h2>Agent ${esc(a.agent)} ${grade(a.grade)} <span class="muted">score ${esc(f.score(a.score))}</span></h2>${metricsTable('tool', rows)}</section>`;
  });
  const summary = metricsTable('agent', [
    { name: 'overall', row: report.overall, total: true },
    ...report.agents.map((a) => ({ name: a.agent, row: a as Metrics })),
  ]);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${HTML_CSP}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>faultgate report</title>
<style>${CSS}</style>
</head>
<body>
${header(report)}
<h2>Findings</h2>
${findings(report.findings)}
<h2>Summary</h2>
${summary}
<h2>Timeline</h2>
<div class="scroll">${renderTimeline(report)}</div>
${agents.join('\n')}
<h2>SLO checks</h2>
${sloTable(report)}
</body>
</html>
`;
}
