/**
 * The inline SVG timeline of the html report: one lane per agent, x = time over the span.
 * Requests (the tracker's `request` successes plus `failure`s) are drawn as a density strip
 * (bounded output whatever the traffic); faults, failures and incident transitions as marks
 * with a <title> tooltip; each incident as a band from open to recovered (green), unrecovered
 * (red) or still open (grey).
 * No script: tooltips are native SVG titles.
 */
import type { Report, TimelineEvent } from '../report-model.js';
import { compactMs, escapeXml as esc, seconds } from './format.js';
import { truncate } from './text-width.js';

const W = 960;
const LEFT = 150;
const RIGHT = 16;
/** Room for the two legend rows above the lanes. */
const TOP = 52;
const LANE = 46;
const AXIS = 26;
const PLOT = W - LEFT - RIGHT;
const BIN_PX = 4;

type Kind = TimelineEvent['kind'];

type Band = 'band-recovered' | 'band-unrecovered' | 'band-open';
/** Row 1: the marks; row 2: the incident bars, one entry per colour. */
const LEGEND: Array<Array<[Kind | Band, string]>> = [
  [
    ['request', 'requests'],
    ['fault', 'injected fault'],
    ['failure', 'failure'],
    ['incident_open', 'incident opened'],
    ['recovered', 'recovered'],
    ['unrecovered', 'unrecovered'],
  ],
  [
    ['band-recovered', 'incident, recovered'],
    ['band-unrecovered', 'incident, unrecovered'],
    ['band-open', 'incident still open'],
  ],
];

const r1 = (x: number) => Math.round(x * 10) / 10;

/** The glyph of one mark kind centred on (x, y). */
function glyph(kind: Exclude<Kind, 'request'>, x: number, y: number): string {
  switch (kind) {
    case 'fault':
      return `<path d="M${r1(x)} ${y - 5}l5 5l-5 5l-5 -5z"/>`;
    case 'failure':
      return `<circle cx="${r1(x)}" cy="${y}" r="3.5"/>`;
    case 'incident_open':
      return `<path d="M${r1(x - 5)} ${y - 5}h10l-5 9z"/>`;
    case 'recovered':
      return `<circle cx="${r1(x)}" cy="${y}" r="4.5"/>`;
    case 'unrecovered':
      return `<path d="M${r1(x - 4)} ${y - 4}l8 8M${r1(x + 4)} ${y - 4}l-8 8"/>`;
  }
}

/** Row offsets inside a lane, so marks of different kinds never hide each other. */
const ROW: Record<Exclude<Kind, 'request'>, number> = {
  fault: 9,
  failure: 19,
  incident_open: 29,
  recovered: 29,
  unrecovered: 29,
};

interface Domain {
  lo: number;
  hi: number;
}

/** The span when it parses and covers the events (they are epoch ms), else the events' extent. */
function domain(report: Report): Domain {
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (const e of report.timeline) {
    if (e.at < lo) lo = e.at;
    if (e.at > hi) hi = e.at;
  }
  const from = Date.parse(report.span.from ?? '');
  const to = Date.parse(report.span.to ?? '');
  if (from <= to && from <= lo + 1000 && to >= hi - 1000)
    return { lo: Math.min(from, lo), hi: Math.max(to, hi) };
  return { lo, hi };
}

function lanesOf(report: Report): string[] {
  const lanes = new Set(report.agents.map((a) => a.agent));
  for (const e of report.timeline) lanes.add(e.agent);
  return [...lanes];
}

function legendMark(kind: Kind | Band, x: number, y: number): string {
  if (kind === 'request') return `<rect class="m-request" x="${x - 3}" y="${y - 6}" width="6" height="12"/>`;
  if (kind.startsWith('band-'))
    return `<rect class="band ${kind}" x="${x - 8}" y="${y - 7}" width="16" height="14"/>`;
  return `<g class="m-${kind}">${glyph(kind as Exclude<Kind, 'request'>, x, y)}</g>`;
}

function legend(): string {
  const items = LEGEND.flatMap((row, i) => {
    let x = LEFT;
    const y = 14 + i * 18;
    return row.map(([kind, label]) => {
      const item = `<g class="legend-item">${legendMark(kind, x, y)}<text x="${x + 10}" y="${y + 4}">${label}</text></g>`;
      x += 30 + label.length * 7;
      return item;
    });
  });
  return `<g class="legend">${items.join('')}</g>`;
}

function axis(d: Domain, height: number): string {
  const y = TOP + height;
  const parts = [`<line class="axis" x1="${LEFT}" y1="${y}" x2="${W - RIGHT}" y2="${y}"/>`];
  for (let i = 0; i <= 4; i++) {
    const x = LEFT + (PLOT * i) / 4;
    const offset = ((d.hi - d.lo) * i) / 4;
    const label = i === 0 ? '0' : `+${seconds(offset / 1000)}`;
    const anchor = i === 0 ? 'start' : i === 4 ? 'end' : 'middle';
    parts.push(
      `<line class="tick" x1="${x}" y1="${TOP}" x2="${x}" y2="${y + 4}"/>`,
      `<text class="tick-label" x="${x}" y="${y + 17}" text-anchor="${anchor}">${label}</text>`,
    );
  }
  return parts.join('');
}

/** Request density (successes and failures) per BIN_PX pixels, scaled to the busiest bin of any lane. */
function requestStrips(events: TimelineEvent[][], xOf: (t: number) => number): string[] {
  const bins = Math.ceil(PLOT / BIN_PX);
  const counts = events.map((lane) => {
    const c = new Array<number>(bins).fill(0);
    for (const e of lane)
      if (e.kind === 'request' || e.kind === 'failure')
        c[Math.min(bins - 1, Math.floor((xOf(e.at) - LEFT) / BIN_PX))]!++;
    return c;
  });
  const max = Math.max(1, ...counts.flat());
  return counts.map((c, lane) => {
    const base = TOP + lane * LANE + LANE - 4;
    const bars: string[] = [];
    c.forEach((n, i) => {
      if (n === 0) return;
      const h = r1(2 + (n / max) * 6);
      bars.push(
        `<rect class="mark m-request" x="${LEFT + i * BIN_PX}" y="${r1(base - h)}" width="${BIN_PX - 1}" height="${h}"><title>${n} request${n === 1 ? '' : 's'}</title></rect>`,
      );
    });
    return bars.join('');
  });
}

/** Incident bands per (agent, tool): open -> recovered | unrecovered, or still open at the end. */
function bands(lane: TimelineEvent[], y: number, xOf: (t: number) => number, end: number): string {
  const open = new Map<string, number>();
  const out: string[] = [];
  const band = (from: number, to: number, cls: string, tool: string) => {
    const x = xOf(from);
    const w = Math.max(2, xOf(to) - x);
    out.push(
      `<rect class="band band-${cls}" x="${r1(x)}" y="${y + 3}" width="${r1(w)}" height="${LANE - 6}"><title>${esc(tool)}: incident ${cls === 'open' ? 'still open' : cls}</title></rect>`,
    );
  };
  for (const e of lane) {
    if (e.kind === 'incident_open') open.set(e.tool, e.at);
    else if (e.kind === 'recovered' || e.kind === 'unrecovered') {
      const from = open.get(e.tool);
      if (from !== undefined) band(from, e.at, e.kind, e.tool);
      open.delete(e.tool);
    }
  }
  for (const [tool, from] of open) band(from, end, 'open', tool);
  return out.join('');
}

function marks(lane: TimelineEvent[], y: number, xOf: (t: number) => number, lo: number): string {
  const out: string[] = [];
  for (const e of lane) {
    if (e.kind === 'request') continue;
    const what = e.kind.replace('_', ' ') + (e.detail ? `: ${e.detail}` : '');
    const title = `${e.tool} · ${what} · +${compactMs(e.at - lo)}`;
    out.push(
      `<g class="mark m-${e.kind}"><title>${esc(title)}</title>${glyph(e.kind, xOf(e.at), y + ROW[e.kind])}</g>`,
    );
  }
  return out.join('');
}

export function renderTimeline(report: Report): string {
  const lanes = lanesOf(report);
  const empty = report.timeline.length === 0;
  const height = empty ? LANE : lanes.length * LANE;
  const total = TOP + height + AXIS;
  const open = `<svg class="timeline" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${total}" width="${W}" height="${total}" role="img" aria-label="Timeline of requests, faults and recoveries per agent">`;
  if (empty) {
    const msg = `<text class="empty" x="${W / 2}" y="${TOP + LANE / 2 + 4}" text-anchor="middle">No events recorded yet.</text>`;
    return `${open}${legend()}${msg}</svg>`;
  }
  const d = domain(report);
  const xOf = (t: number) => (d.hi > d.lo ? LEFT + ((t - d.lo) / (d.hi - d.lo)) * PLOT : LEFT + PLOT / 2);
  const grouped = new Map<string, TimelineEvent[]>(lanes.map((agent) => [agent, []]));
  for (const e of report.timeline) grouped.get(e.agent)!.push(e);
  const byLane = lanes.map((agent) => grouped.get(agent)!.sort((a, b) => a.at - b.at));
  const strips = requestStrips(byLane, xOf);
  const body = lanes.map((agent, i) => {
    const y = TOP + i * LANE;
    const bg = `<rect class="lane lane-${i % 2}" x="0" y="${y}" width="${W}" height="${LANE}"/>`;
    const label = `<text class="lane-label" x="8" y="${y + LANE / 2 + 4}"><title>${esc(agent)}</title>${esc(truncate(agent, 20))}</text>`;
    const lane = byLane[i]!;
    return `<g class="lane-group">${bg}${label}${bands(lane, y, xOf, d.hi)}${strips[i]}${marks(lane, y, xOf, d.lo)}</g>`;
  });
  return `${open}${legend()}${body.join('')}${axis(d, height)}</svg>`;
}
