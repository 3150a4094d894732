/**
 * Number and text formatting shared by the report formats. Rounding always goes towards the
 * pessimistic side (availability and scores are floored) so a report never shows 100% or a
 * grade boundary that the run did not reach.
 */
import type { SloCheck } from '../report-model.js';

/** Shown for a value that does not exist yet (no incidents, no responses). */
export const NONE = '—';

const floorTo = (x: number, digits: number): number => {
  const f = 10 ** digits;
  // The epsilon keeps 0.9995 * 100 (= 99.94999...) from flooring a step too far.
  return Math.floor(x * f + 1e-9) / f;
};

/** 0.99951 -> "99.95%"; exactly 1 -> "100%"; never rounds up to 100%. */
export function pct(x: number | null, digits = 2): string {
  if (x === null || !Number.isFinite(x)) return NONE;
  if (x === 1) return '100%';
  return `${floorTo(x * 100, digits).toFixed(digits)}%`;
}

/**
 * Error budget remaining: a percentage while some is left, else how many times the budget was
 * spent ("overspent 99×" reads better than "-9800.0%"): remaining r means (1 − r) budgets spent.
 * `compact` is the terminal table's narrow column: "99× over".
 */
export function budget(r: number | null, compact = false): string {
  if (r === null || !Number.isFinite(r)) return NONE;
  if (r >= 0) return pct(r, 1);
  const spent = 1 - r;
  const times = `${spent >= 10 ? Math.floor(spent) : floorTo(spent, 1)}×`;
  return compact ? `${times} over` : `overspent ${times}`;
}

/** Nines of availability, one decimal; 9 is the cap the tracker uses for a perfect run. */
export function nines(n: number): string {
  if (!Number.isFinite(n)) return NONE;
  return n >= 9 ? '9+' : floorTo(Math.max(0, n), 1).toFixed(1);
}

/** Score 0..100, floored to one decimal: 89.96 shows as 89.9 next to its grade B. */
export function score(s: number): string {
  if (!Number.isFinite(s)) return NONE;
  const v = floorTo(s, 1);
  return Number.isInteger(v) ? String(v) : v.toFixed(1);
}

/** 1234567 -> "1,234,567". */
export function count(n: number): string {
  return Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : NONE;
}

/** Milliseconds for humans: "0.8 ms", "120 ms", "1.25 s", "2m 05s". */
export function ms(v: number | null): string {
  if (v === null || !Number.isFinite(v)) return NONE;
  if (v < 10) return `${v.toFixed(1)} ms`;
  if (v < 1000) return `${Math.round(v)} ms`;
  return seconds(v / 1000);
}

/** Seconds for humans: "850 ms", "12.3 s", "2m 05s", "1h 02m". */
export function seconds(v: number | null): string {
  if (v === null || !Number.isFinite(v)) return NONE;
  if (v < 1) return `${Math.round(v * 1000)} ms`;
  if (v < 10) return `${v.toFixed(2)} s`;
  if (v < 60) return `${v.toFixed(1)} s`;
  const total = Math.round(v);
  if (total < 3600) return `${Math.floor(total / 60)}m ${String(total % 60).padStart(2, '0')}s`;
  return `${Math.floor(total / 3600)}h ${String(Math.floor((total % 3600) / 60)).padStart(2, '0')}m`;
}

/** Compact durations for narrow terminal columns (at most 6 characters): "850ms", "12.3s", "4.5m". */
export function compactMs(v: number | null): string {
  if (v === null || !Number.isFinite(v)) return NONE;
  if (v < 1000) return `${v < 10 ? v.toFixed(1) : Math.round(v)}ms`;
  const s = v / 1000;
  if (s < 100) return `${s < 10 ? s.toFixed(2) : s.toFixed(1)}s`;
  if (s < 6000) return `${(s / 60).toFixed(1)}m`;
  return `${(s / 3600).toFixed(1)}h`;
}

/** Counts for narrow columns (at most 6 characters): 999999, then "1.2M". */
export function compactCount(n: number): string {
  if (!Number.isFinite(n)) return NONE;
  if (n < 1e6) return String(Math.round(n));
  if (n < 1e9) return `${(n / 1e6).toFixed(1)}M`;
  return `${(n / 1e9).toFixed(1)}G`;
}

export function attempts(v: number | null): string {
  return v === null || !Number.isFinite(v) ? NONE : v.toFixed(1);
}

/** "http_error 12, latency 3": most frequent first, then by name, so reports diff cleanly. */
export function faults(byType: Record<string, number>): string {
  const entries = Object.entries(byType).filter(([, n]) => n > 0);
  if (entries.length === 0) return NONE;
  entries.sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return entries.map(([type, n]) => `${type} ${n}`).join(', ');
}

export function faultTotal(byType: Record<string, number>): number {
  let total = 0;
  for (const n of Object.values(byType)) total += n;
  return total;
}

export type SloName = 'availability' | 'latency_p99_ms' | 'mttr_s';
export const SLO_NAMES: readonly SloName[] = ['availability', 'latency_p99_ms', 'mttr_s'];
export const SLO_LABELS: Record<SloName, string> = {
  availability: 'availability',
  latency_p99_ms: 'p99 latency',
  mttr_s: 'MTTR',
};

/** One SLO value in its own unit. */
export function sloValue(name: SloName, v: number | null): string {
  if (name === 'availability') return pct(v);
  if (name === 'latency_p99_ms') return ms(v);
  return seconds(v);
}

/** "✓ 99.95% (target 99.50%)". The direction (≥ for availability, ≤ otherwise) is implied by the name. */
export function sloCheck(name: SloName, check: SloCheck): string {
  return `${check.ok ? '✓' : '✗'} ${sloValue(name, check.actual)} (target ${sloValue(name, check.target)})`;
}

/** "2024-05-01 12:00:00Z → 12:05:00Z (5m 00s)", or "no traffic yet". */
export function span(from: string | null, to: string | null): string {
  if (!from || !to) return 'no traffic yet';
  const a = Date.parse(from);
  const b = Date.parse(to);
  if (Number.isNaN(a) || Number.isNaN(b)) return `${from} → ${to}`;
  const iso = (t: number) =>
    new Date(t)
      .toISOString()
      .replace('T', ' ')
      .replace(/\.\d+Z$/, 'Z');
  const start = iso(a);
  let end = iso(b);
  if (end.slice(0, 10) === start.slice(0, 10)) end = end.slice(11);
  return `${start} → ${end} (${seconds(Math.max(0, b - a) / 1000)})`;
}

/**
 * Names come from the network (agent ids, tool names): drop C0/C1 controls (ANSI escapes,
 * newlines) and bidi overrides, which could rewrite a terminal or reorder a line of text.
 */
export function cleanName(s: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point.
  return s.replace(/[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, '�');
}

/** Escapes text for HTML and SVG content and for double- or single-quoted attribute values. */
export function escapeXml(s: string): string {
  return cleanName(s).replace(/[&<>"']/g, (c) => XML_ENTITIES[c]!);
}

const XML_ENTITIES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};
