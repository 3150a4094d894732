/**
 * `faultgate demo` as a process: ends by itself, the naive agent grades below the resilient
 * one with findings, and the same seed gives the same numbers.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Report } from '../../src/observe/report-model.js';
import { cli, tempDir } from '../run/fixtures.js';

/**
 * What the seed decides on its own: every request, its outcome and the faults it met, per agent
 * and tool. Incidents are judged against a 0.6 s recovery window on the wall clock, and times
 * are measured, so those may differ on a machine too loaded to keep the demo's pace.
 */
function counts(r: Report) {
  return r.agents.map((a) => ({
    agent: a.agent,
    tools: a.tools.map((t) => ({
      tool: t.tool,
      requests: t.requests,
      failures: t.failures,
      faults: t.faults,
    })),
  }));
}

describe('faultgate demo (whole process)', () => {
  it('--duration 5 --seed 1 twice: exit 0, naive below resilient, findings, identical numbers', async () => {
    const { dir } = tempDir();
    const reports: Report[] = [];
    for (const name of ['a.json', 'b.json']) {
      const path = join(dir, name);
      const run = await cli(['demo', '--duration', '5', '--seed', '1', '--report', path]);
      expect(run.code, run.stderr).toBe(0);
      // not a TTY: plain progress lines, then the terminal report and the verdict
      expect(run.stdout).toMatch(/^ +\d+ s {2}naive: \d+ req, \d+ faults, \d+ open {2}\| {2}resilient: /m);
      expect(run.stdout).toContain('faultgate report  grade');
      expect(run.stdout).not.toContain('\x1b[');
      expect(run.stdout).toMatch(/naive: grade [A-F] \(score [\d.]+\), resilient: grade [A-F]/);
      reports.push(JSON.parse(readFileSync(path, 'utf8')) as Report);
    }
    const [a, b] = reports as [Report, Report];
    expect(a.seed).toBe(1);
    expect(a.provisional).toBe(false);
    const naive = a.agents.find((x) => x.agent === 'naive')!;
    const resilient = a.agents.find((x) => x.agent === 'resilient')!;
    expect(naive.score).toBeLessThan(resilient.score);
    expect(naive.availability.effective).toBeLessThan(resilient.availability.effective);
    expect(resilient.unrecovered).toBeLessThan(naive.unrecovered);
    const kinds = (agent: string) => a.findings.filter((f) => f.agent === agent).map((f) => f.kind);
    expect(kinds('naive')).toContain('accepted_broken_response');
    expect(kinds('naive')).toContain('never_recovered');
    expect(kinds('resilient')).not.toContain('accepted_broken_response');
    // chaos reached every tool, and the resilient agent's fallback search was used
    expect(Object.keys(a.overall.faults).sort()).toEqual(['error', 'latency', 'rate_limit', 'sse']);
    expect(resilient.tools.map((t) => t.tool)).toContain('search-backup');
    expect(counts(b)).toEqual(counts(a));
  });

  it('bad options exit 2; --help states the exit codes', async () => {
    const bad = await cli(['demo', '--duration', '0']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--duration "0" must be a number from 1 to 3600');
    const seed = await cli(['demo', '--seed', '1.5']);
    expect(seed.code).toBe(2);
    const help = await cli(['demo', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Exit codes: 0 the demo ran');
  });
});
