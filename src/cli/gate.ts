/**
 * The CI gate shared by `faultgate report` and `faultgate run` (SPEC section 1): exit 1 when the
 * report's overall grade is below `--min-grade` or more incidents than `--max-unrecovered` went
 * unrecovered. Open incidents count as unrecovered here too, as they do in the grade, and a
 * report without a single request fails any gate.
 */
import type { Report } from '../observe/report-model.js';

export const GRADES = ['A', 'B', 'C', 'D', 'F'] as const;
export type GradeLetter = (typeof GRADES)[number];

export interface Gate {
  minGrade?: GradeLetter;
  maxUnrecovered?: number;
}

/** A gate option the user got wrong: the caller prints it and exits 2. */
export class GateOptionError extends Error {}

export function parseMinGrade(text: string | undefined): GradeLetter | undefined {
  if (text === undefined || text === '') return undefined;
  const g = text.toUpperCase();
  if (!(GRADES as readonly string[]).includes(g))
    throw new GateOptionError(`--min-grade "${text}" is not a grade: use one of ${GRADES.join(', ')}`);
  return g as GradeLetter;
}

export function parseMaxUnrecovered(text: string | undefined): number | undefined {
  if (text === undefined || text === '') return undefined;
  const n = Number(text);
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(n))
    throw new GateOptionError(`--max-unrecovered "${text}" must be a whole number (0 or more)`);
  return n;
}

/** Why the report misses the gate, one sentence per miss; empty when it passes. */
export function gateFailures(report: Report, gate: Gate): string[] {
  const out: string[] = [];
  const o = report.overall;
  // An empty report grades A: passing a gate on it would hide an agent that bypassed the proxy.
  if ((gate.minGrade !== undefined || gate.maxUnrecovered !== undefined) && o.requests === 0) {
    return [
      'no request went through faultgate, so there is nothing to grade (does the agent use the proxy?)',
    ];
  }
  const provisional = report.provisional ? ' (provisional: open incidents count as unrecovered)' : '';
  if (gate.minGrade !== undefined && GRADES.indexOf(o.grade) > GRADES.indexOf(gate.minGrade)) {
    out.push(`grade ${o.grade} (score ${o.score}) is below --min-grade ${gate.minGrade}${provisional}`);
  }
  const lost = o.unrecovered + (o.open ?? 0);
  if (gate.maxUnrecovered !== undefined && lost > gate.maxUnrecovered) {
    out.push(
      `${lost} unrecovered incident(s), more than --max-unrecovered ${gate.maxUnrecovered}${provisional}`,
    );
  }
  return out;
}
