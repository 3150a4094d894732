/** SPEC sections 5 and 8: open incidents count as unrecovered and mark the report provisional. */
import { describe, expect, it } from 'vitest';
import { renderReport } from '../../src/observe/report/index.js';
import { widestLine } from '../../src/observe/report/terminal.js';
import { setup, slos } from './tracker-fixtures.js';

const W = slos.recovery_window_s * 1000;

describe('provisional grades', () => {
  it('one failure, no retry, report within the window: not A, open counted, provisional', () => {
    const { send, report, clock } = setup();
    for (let i = 0; i < 20; i++) send({ at: i * 200 }); // 20 successes
    send({ at: 5000, ok: false }); // opens at 5100, never retried
    clock.now = 6000; // well inside the window
    const r = report();
    expect(r.provisional).toBe(true);
    const row = r.agents[0]!.tools[0]!;
    expect(row).toMatchObject({ incidents: 1, open: 1, unrecovered: 0, recovered: 0, recovery_rate: 0 });
    // effective availability = 1 − 1 / (20 + 1)
    expect(row.availability.effective).toBeCloseTo(1 - 1 / 21, 12);
    expect(row.error_budget_remaining).toBeCloseTo(1 - 1 / (0.01 * 21), 12);
    expect(row.grade).not.toBe('A');
    expect(row.slo.mttr_s.ok).toBe(false);
    expect(r.overall.open).toBe(1);
    expect(r.agents[0]!.open).toBe(1);
    // after expiry: the same numbers, now final
    clock.now = 5100 + W + 1;
    const after = report();
    expect(after.provisional).toBe(false);
    const final = after.agents[0]!.tools[0]!;
    expect(final).toMatchObject({ open: 0, unrecovered: 1, recovery_rate: 0 });
    expect(final.score).toBe(row.score);
    expect(final.grade).toBe(row.grade);
  });

  it('a recovery turns a provisional report final and the grade can rise', () => {
    const { send, report, clock } = setup();
    send({ at: 0 }, { at: 200, ok: false });
    clock.now = 400;
    const before = report();
    expect(before.provisional).toBe(true);
    send({ at: 500 }); // the retry succeeds
    const after = report();
    expect(after.provisional).toBe(false);
    expect(after.overall).toMatchObject({ open: 0, recovered: 1, recovery_rate: 1 });
    expect(after.overall.score).toBeGreaterThan(before.overall.score);
  });

  it('closeAll() closes every open incident as unrecovered and decides pending broken responses', () => {
    const { send, report, tracker, clock } = setup();
    send({ at: 0, ok: false, agent: 'a' }); // open
    send({ at: 0, agent: 'b', tool: 'llm', injected: ['truncate'], broken: true, ok: false });
    clock.now = 1000;
    tracker.closeAll(1000);
    const r = report();
    expect(r.provisional).toBe(false);
    expect(r.overall).toMatchObject({ open: 0, unrecovered: 2 });
    const kinds = r.findings.map((f) => `${f.kind}:${f.agent}`).sort();
    expect(kinds).toEqual(['accepted_broken_response:b', 'never_recovered:a', 'never_recovered:b']);
    expect(r.timeline.filter((e) => e.kind === 'unrecovered').map((e) => e.at)).toEqual([1000, 1000]);
    expect(r.findings.find((f) => f.agent === 'a')!.message).toBe(
      'search never recovered for a before the agent exited (1 incident)',
    );
  });

  it('every format marks a provisional report, and a final one not', () => {
    const { send, report, clock } = setup();
    send({ at: 0 }, { at: 200, ok: false });
    clock.now = 400;
    const r = report();
    const md = renderReport(r, 'markdown');
    expect(md).toContain('PROVISIONAL: 1 incident is still open');
    expect(md).toMatch(/\| open \|/);
    expect(renderReport(r, 'html')).toContain('class="provisional"');
    const term = renderReport(r, 'terminal');
    expect(term).toContain('PROVISIONAL');
    expect(term).toMatch(/grade [A-F]\*/);
    expect(widestLine(term)).toBeLessThanOrEqual(100);
    expect(JSON.parse(renderReport(r, 'json')).provisional).toBe(true);
    clock.now = 400 + W * 2;
    const final = report();
    for (const format of ['markdown', 'html', 'terminal'] as const)
      expect(renderReport(final, format)).not.toContain('PROVISIONAL');
  });
});

describe('gateFailures', () => {
  it('misses on grade, on unrecovered plus open incidents, and on an empty report', async () => {
    const { gateFailures } = await import('../../src/cli/gate.js');
    const { send, report, clock } = setup();
    for (let i = 0; i < 5; i++) send({ at: i * 200 });
    send({ at: 2000, ok: false });
    clock.now = 2200;
    const r = report(); // provisional: one open incident
    expect(gateFailures(r, {})).toEqual([]);
    expect(gateFailures(r, { maxUnrecovered: 1 })).toEqual([]);
    expect(gateFailures(r, { maxUnrecovered: 0 })).toEqual([
      '1 unrecovered incident(s), more than --max-unrecovered 0 (provisional: open incidents count as unrecovered)',
    ]);
    expect(gateFailures(r, { minGrade: 'A' })[0]).toMatch(
      /^grade [B-F] \(score [\d.]+\) is below --min-grade A/,
    );
    expect(gateFailures(r, { minGrade: 'F' })).toEqual([]);
    const empty = setup().report();
    expect(empty.overall.grade).toBe('A');
    expect(gateFailures(empty, { minGrade: 'F' })[0]).toContain('no request went through faultgate');
  });
});
