import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

interface Panel {
  title: string;
  targets?: { expr: string }[];
}

const dashboard = JSON.parse(readFileSync('config/grafana/faultgate-dashboard.json', 'utf8')) as {
  panels: Panel[];
};
const exprs = dashboard.panels.flatMap((p) =>
  (p.targets ?? []).map((t) => ({ title: p.title, expr: t.expr })),
);

/** Families that carry `agent="*"` under the default `metrics.detail: tool`. */
const STAR_FAMILIES = [
  'faultgate_request_duration_seconds',
  'faultgate_recovery_seconds',
  'faultgate_recovery_attempts',
  'faultgate_mttr_seconds',
  'faultgate_availability_ratio',
  'faultgate_error_budget_remaining_ratio',
];

/** Grafana's variables as a query would see them with "All" selected. */
const expand = (expr: string) =>
  expr
    .replaceAll('$__rate_interval', '1m')
    .replaceAll('$__range', '1h')
    .replaceAll('$agent', '.*')
    .replaceAll('$tool', '.*');

const hasPromtool = spawnSync('promtool', ['--version']).status === 0;

describe('the Grafana dashboard sums a fleet', () => {
  it('has queries, none split by instance, and fleet panels', () => {
    expect(exprs.length).toBeGreaterThan(20);
    for (const { expr } of exprs) expect(expr).not.toMatch(/\b(by|without)\s*\([^)]*\binstance\b/);
    for (const name of [
      'faultgate_fleet_connected',
      'faultgate_fleet_suspended',
      'faultgate_fleet_outcomes_dropped_total',
    ])
      expect(exprs.some(({ expr }) => expr.includes(name))).toBe(true);
  });

  it('keeps the agent="*" series of histograms and recovery gauges when one agent is selected', () => {
    for (const { title, expr } of exprs) {
      for (const family of STAR_FAMILIES) {
        const selectors = expr.match(new RegExp(`${family}(?:_bucket|_sum|_count)?\\{[^}]*\\}`, 'g')) ?? [];
        for (const s of selectors) {
          if (s.includes('agent=')) expect(s, title).toContain('agent=~"$agent|\\\\*"');
        }
      }
    }
  });

  it.skipIf(!hasPromtool)('every query parses (promtool check rules)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'faultgate-grafana-'));
    try {
      const rules = exprs
        .map(
          (e, i) => `      - record: dashboard:query_${i}\n        expr: ${JSON.stringify(expand(e.expr))}`,
        )
        .join('\n');
      const file = join(dir, 'rules.yml');
      writeFileSync(file, `groups:\n  - name: dashboard\n    rules:\n${rules}\n`);
      const out = execFileSync('promtool', ['check', 'rules', file], { encoding: 'utf8' });
      expect(out).toContain(`SUCCESS: ${exprs.length} rules found`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
