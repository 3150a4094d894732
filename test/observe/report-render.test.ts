import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createAdminServer } from '../../src/admin/server.js';
import { Metrics } from '../../src/observe/metrics.js';
import * as f from '../../src/observe/report/format.js';
import { REPORT_FORMATS, renderReport } from '../../src/observe/report/index.js';
import { mdText } from '../../src/observe/report/markdown.js';
import { widestLine } from '../../src/observe/report/terminal.js';
import { displayWidth, truncate, wrap } from '../../src/observe/report/text-width.js';
import type { Report } from '../../src/observe/report-model.js';
import { EVIL_AGENT, emptyReport, LONG_TOOL, sampleReport, WIDE_AGENT } from './report-fixture.js';

// biome-ignore lint/suspicious/noControlCharactersInRegex: looking for ANSI escapes.
const ANSI = /\x1b\[/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: stripping ANSI escapes.
const strip = (s: string) => s.replace(/\x1b\[[0-9;]*m/g, '');

describe('number formatting', () => {
  it('never rounds availability or scores up across a boundary', () => {
    expect(f.pct(0.99999)).toBe('99.99%');
    expect(f.pct(1)).toBe('100%');
    expect(f.pct(0.9995)).toBe('99.95%');
    expect(f.pct(0)).toBe('0.00%');
    expect(f.pct(null)).toBe(f.NONE);
    expect(f.pct(Number.NEGATIVE_INFINITY)).toBe(f.NONE);
    expect(f.score(89.96)).toBe('89.9');
    expect(f.score(90)).toBe('90');
    expect(f.nines(9)).toBe('9+');
    expect(f.nines(2.999)).toBe('2.9');
  });

  it('formats durations for people and compactly for terminal columns', () => {
    expect(f.ms(0.84)).toBe('0.8 ms');
    expect(f.ms(120.4)).toBe('120 ms');
    expect(f.ms(1250)).toBe('1.25 s');
    expect(f.seconds(0.85)).toBe('850 ms');
    expect(f.seconds(125)).toBe('2m 05s');
    expect(f.seconds(3725)).toBe('1h 02m');
    expect(f.seconds(null)).toBe(f.NONE);
    for (const v of [0, 0.5, 9.99, 999, 1000, 9999, 99_999, 5_999_999, 86_400_000])
      expect(f.compactMs(v).length, String(v)).toBeLessThanOrEqual(6);
    for (const n of [0, 999_999, 1_000_000, 123_456_789])
      expect(f.compactCount(n).length).toBeLessThanOrEqual(6);
  });

  it('lists faults most frequent first and shows a span with its duration', () => {
    expect(f.faults({ latency: 3, http_error: 12, reset: 3, none: 0 })).toBe(
      'http_error 12, latency 3, reset 3',
    );
    expect(f.faults({})).toBe(f.NONE);
    expect(f.span('2025-03-01T10:00:00.000Z', '2025-03-01T10:05:00.000Z')).toBe(
      '2025-03-01 10:00:00Z → 10:05:00Z (5m 00s)',
    );
    expect(f.span(null, null)).toBe('no traffic yet');
  });

  it('measures, cuts and wraps text by terminal columns', () => {
    expect(displayWidth('abc')).toBe(3);
    expect(displayWidth('検索')).toBe(4);
    expect(displayWidth('e\u0301')).toBe(1);
    expect(truncate('abcdef', 4)).toBe('abc…');
    expect(displayWidth(truncate(WIDE_AGENT, 9))).toBeLessThanOrEqual(9);
    const lines = wrap('one two three four five six seven', 12, '  ');
    expect(lines).toEqual(['one two', '  three four', '  five six', '  seven']);
    expect(wrap('x'.repeat(30), 10)).toEqual([`${'x'.repeat(9)}…`]);
  });

  it('drops control characters and bidi overrides from names', () => {
    expect(f.cleanName('a\x1b[31mb\nc\u202ed')).toBe('a�[31mb�c�d');
  });
});

describe('json', () => {
  it('is the Report object, pretty-printed with 2 spaces, and round-trips', () => {
    const report = sampleReport();
    const text = renderReport(report, 'json');
    expect(JSON.parse(text)).toEqual(report);
    expect(text.split('\n')[1]).toMatch(/^ {2}"generated_at": /);
    expect(text.endsWith('}\n')).toBe(true);
  });
});

/** Splits a markdown table row on unescaped pipes. */
const cells = (row: string) => row.slice(1, -1).split(/(?<!\\)\|/);

function tables(md: string): string[][] {
  const out: string[][] = [];
  let current: string[] | null = null;
  for (const line of md.split('\n')) {
    if (!line.startsWith('|')) current = null;
    else {
      if (!current) {
        current = [];
        out.push(current);
      }
      current.push(line);
    }
  }
  return out;
}

describe('markdown', () => {
  const report = sampleReport();
  const md = renderReport(report, 'markdown');

  it('has the header facts, a summary, one table per agent, the SLO table and the findings', () => {
    expect(md).toMatch(/^# faultgate report\n/);
    expect(md).toContain('- Seed: 42');
    expect(md).toContain('- Config hash: `sha256:3f2a9c0d5b7e`');
    expect(md).toContain('2025-03-01 10:00:00Z → 10:05:00Z (5m 00s)');
    const t = tables(md);
    // summary + 3 agents + SLO checks
    expect(t).toHaveLength(5);
    expect(t[0]).toHaveLength(2 + 1 + report.agents.length);
    expect(t[1]).toHaveLength(2 + report.agents[0]!.tools.length + 1);
    // overall + per agent (roll-up + tools)
    expect(t[4]).toHaveLength(2 + 1 + report.agents.reduce((n, a) => n + 1 + a.tools.length, 0));
    for (const table of t) {
      const width = cells(table[0]!).length;
      for (const row of table) expect(cells(row), row).toHaveLength(width);
    }
    expect(t[0]![0]).toContain('effective avail.');
    expect(t[0]![2]).toContain('1,234,567');
    expect(t[1]![3]).toContain('| — |'); // llm: null MTTR
    expect(
      md.match(/^- \*\*(accepted a broken response|never recovered|ignores Retry-After)\*\*/gm),
    ).toHaveLength(3);
  });

  it('escapes names so they cannot inject HTML or break a table', () => {
    expect(md).not.toMatch(/(?<!\\)<(script|img)/);
    expect(md).toContain(mdText(EVIL_AGENT));
    expect(mdText('a|b<c>&_d')).toBe('a\\|b\\<c\\>\\&\\_d');
  });

  it('renders a report without traffic', () => {
    const empty = renderReport(emptyReport(), 'markdown');
    expect(empty).toContain('No findings.');
    expect(empty).toContain('- Seed: none (random)');
    expect(tables(empty)).toHaveLength(2);
  });
});

describe('terminal', () => {
  const report = sampleReport();

  it('fits in 100 columns, cuts long names with … and has no escape codes without colour', () => {
    const text = renderReport(report, 'terminal', { color: false });
    expect(text).not.toMatch(ANSI);
    expect(widestLine(text)).toBeLessThanOrEqual(100);
    for (const line of text.split('\n')) expect(displayWidth(line), line).toBeLessThanOrEqual(100);
    expect(text).not.toContain(LONG_TOOL);
    expect(text).toContain(`  ${LONG_TOOL.slice(0, 19)}…`);
    expect(text).toContain('planner accepted a truncated stream from llm 14 times without\n');
    expect(text).toContain('SLO targets: availability ≥ 99.00%, p99 ≤ 2.00 s, MTTR ≤ 30.0 s');
    expect(text).toContain('FINDINGS (3)');
    // A negative error budget (-2.5 in the fixture) reads as budgets spent, not "-250.0%".
    expect(text).toContain('3.5× over');
    expect(text).not.toContain('-250.0%');
  });

  it('colours grades only when asked: A/B green, C yellow, D/F red', () => {
    const plain = renderReport(report, 'terminal', { color: false });
    const color = renderReport(report, 'terminal', { color: true });
    expect(strip(color)).toBe(plain);
    expect(widestLine(color)).toBeLessThanOrEqual(100);
    expect(color).toContain('\x1b[32mB\x1b[39m');
    expect(color).toContain('\x1b[31mF\x1b[39m');
    expect(color).toContain('\x1b[33mC\x1b[39m');
    expect(color).toContain('\x1b[31mD\x1b[39m');
  });

  it('never passes control characters from names to the terminal', () => {
    const r = sampleReport();
    r.agents[0]!.agent = 'bad\x1b]0;pwned\x07\x1b[2J';
    r.findings[0]!.message = 'line\nbreak\x1b[31m';
    const text = renderReport(r, 'terminal', { color: false });
    expect(text).not.toContain('\x1b');
    expect(text).not.toContain('\x07');
  });

  it('renders a report without traffic', () => {
    const text = renderReport(emptyReport(), 'terminal', { color: false });
    expect(text).toContain('span no traffic yet');
    expect(text).toContain('  none');
    expect(widestLine(text)).toBeLessThanOrEqual(100);
  });
});

describe('html', () => {
  const html = renderReport(sampleReport(), 'html');

  it('is one self-contained page with the tables and the timeline', () => {
    expect(html).toMatch(/^<!doctype html>/);
    expect(html.match(/<table/g)).toHaveLength(5);
    expect(html).toContain('<svg class="timeline"');
    expect(html).not.toMatch(/<script|<link rel="stylesheet"|src="http|href="http/i);
    expect(html).toContain("default-src 'none'");
  });

  it('escapes every string from the report', () => {
    expect(html).not.toContain('<script>alert');
    expect(html).not.toContain('<img');
    expect(html).not.toContain('<b>truncate');
    expect(html).toContain('evil&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;co');
    expect(html).toContain('tool&quot;&#39;|&lt;img src=x onerror=alert(1)&gt;');
  });

  it('draws an empty timeline with a message', () => {
    const empty = renderReport(emptyReport(), 'html');
    expect(empty).toContain('No events recorded yet.');
    expect(empty).not.toContain('class="mark');
  });
});

describe('GET /api/v1/report', () => {
  let close: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await close?.();
    close = undefined;
  });

  async function admin(report?: () => Report): Promise<string> {
    const server = createAdminServer({ metrics: new Metrics(10), ready: () => true, report, token: '' });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    close = () => new Promise((r) => server.close(() => r()));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v1/report`;
  }

  it('answers each format with its content type', async () => {
    const url = await admin(sampleReport);
    const types = {
      json: 'application/json',
      markdown: 'text/markdown; charset=utf-8',
      html: 'text/html; charset=utf-8',
      terminal: 'text/plain; charset=utf-8',
    };
    for (const format of REPORT_FORMATS) {
      const res = await fetch(`${url}?format=${format}`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe(types[format]);
      expect(await res.text()).toBe(renderReport(sampleReport(), format));
    }
    const plain = await fetch(url);
    expect(plain.headers.get('content-type')).toBe('application/json');
    const colored = await (await fetch(`${url}?format=terminal&color=1`)).text();
    expect(colored).toMatch(ANSI);
  });

  it('rejects an unknown format with 400 FAULTGATE_ERR_BAD_REQUEST', async () => {
    const url = await admin(sampleReport);
    const res = await fetch(`${url}?format=pdf`);
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toBe('application/json');
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('FAULTGATE_ERR_BAD_REQUEST');
    expect(body.error.message).toContain('json, markdown, html, terminal');
  });

  it('answers 404 when the instance has no report source', async () => {
    const res = await fetch(await admin());
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('FAULTGATE_ERR_NOT_FOUND');
  });

  it('renders the report of the moment, per request', async () => {
    let n = 0;
    const url = await admin(() => ({ ...sampleReport(), seed: ++n }));
    expect(((await (await fetch(url)).json()) as Report).seed).toBe(1);
    expect(((await (await fetch(url)).json()) as Report).seed).toBe(2);
  });
});
