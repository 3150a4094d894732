/**
 * The outcome stream's entry format (src/fleet/outcome-codec.ts): every field of an exchange
 * comes back out of a real Redis stream bit for bit, optional fields absent or present; an
 * entry of the old JSON format (format 1) is read beside format 2 (a rolling upgrade); an entry
 * of a format this build does not know is skipped and logged.
 */
import { PassThrough } from 'node:stream';
import { Registry } from 'prom-client';
import { describe, expect, it, onTestFinished } from 'vitest';
import {
  decodeEntry,
  EntryFormatError,
  EntryWriter,
  FORMAT,
  truncate,
} from '../../src/fleet/outcome-codec.js';
import { fleetReport, OutcomeStream, readOutcomes, streamKey } from '../../src/fleet/outcomes.js';
import { createLogger } from '../../src/observe/logger.js';
import type { ExchangeOutcome } from '../../src/observe/outcome.js';
import { outcome } from '../observe/tracker-fixtures.js';
import { fleetClient } from './redis-client.js';

async function setup() {
  const { config, client } = await fleetClient('codec');
  const lines: string[] = [];
  const sink = new PassThrough();
  sink.on('data', (b: Buffer) => lines.push(...b.toString().split('\n').filter(Boolean)));
  const logger = createLogger('warn', sink);
  const stream = new OutcomeStream(config.fleet!, undefined, () => client, logger, new Registry());
  onTestFinished(() => stream.close((p) => p.then(() => undefined)));
  return { config, client, stream, logger, lines };
}

const epoch = performance.timeOrigin + performance.now();

/** Exchanges that between them set every field to each kind of value it takes. */
function variety(): ExchangeOutcome[] {
  const base: ExchangeOutcome = {
    agent: 'planner',
    tenant: 'acme',
    tool: 'search',
    method: 'POST',
    path: '/search',
    bodyKey: 'len:10',
    startedAt: epoch,
    endedAt: epoch + 12.345678,
    status: 200,
    success: true,
    failure: undefined,
    injected: [],
    brokenByFault: false,
    retryAfterMs: undefined,
    trace: undefined,
  };
  const list: ExchangeOutcome[] = [
    base,
    { ...base, failure: 'status', success: false, status: 503, injected: ['error'], retryAfterMs: 1500 },
    { ...base, failure: 'transport', success: false, status: 0, injected: ['reset'], trace: 'run-1' },
    {
      ...base,
      failure: 'broken_body',
      success: false,
      injected: ['truncate', 'latency'],
      brokenByFault: true,
      retryAfterMs: 0.25,
      trace: 'run-1',
    },
    { ...base, failure: 'client_abort', success: false, status: 0 },
    // Strings with the format's own separators, quotes, escapes, non-ASCII; empty strings.
    {
      ...base,
      agent: 'a,b\nc "d" \\e',
      tenant: '',
      tool: 'ツール 🔧',
      method: 'CONNECT',
      path: 'api.example.com:443',
      bodyKey: '',
      trace: 't,\n"x"',
      injected: ['x,y', ''],
    },
    { ...base, bodyKey: 'sha1:0123456789abcdef0123456789abcdef01234567', status: 429, retryAfterMs: 2 ** 40 },
    // Times that are not multiples of 2^-12 ms (small, fractional), negative, huge, a negative duration.
    { ...base, startedAt: 0.1, endedAt: 0.30000000000000004 },
    { ...base, startedAt: -5.5, endedAt: 1e-7 },
    { ...base, startedAt: epoch + 60_000, endedAt: epoch + 59_999.75 },
    { ...base, startedAt: 8.64e15, endedAt: 8.64e15 + 1 },
    { ...base, status: 999, retryAfterMs: -3 },
  ];
  // Each end time distinct: the reader returns them in end-time order.
  return list
    .map((o, i) => ({ ...o, endedAt: o.endedAt + i * 2 ** -12 }))
    .sort((a, b) => a.endedAt - b.endedAt);
}

/** Deep equality (absent and undefined alike), and every number bit for bit. */
function expectSame(got: ExchangeOutcome[], want: ExchangeOutcome[]): void {
  expect(got).toEqual(want);
  for (let i = 0; i < want.length; i++) {
    for (const k of ['startedAt', 'endedAt', 'status', 'retryAfterMs'] as const)
      expect(got[i]![k]).toBe(want[i]![k]);
  }
}

describe('outcome stream entry format', () => {
  it('round-trips every field of an exchange through a real Redis stream', async () => {
    const { config, client, stream } = await setup();
    const want = variety();
    for (const o of want) stream.observe(o);
    await stream.flush();
    const entries = await client.xRange(streamKey(config.fleet!), '-', '+');
    expect(entries).toHaveLength(1);
    expect(entries[0]!.message).toMatchObject({ v: FORMAT, i: 'a', n: String(want.length) });
    expectSame(await readOutcomes(client, config.fleet!), want);
  });

  it('reads format 1 (JSON) entries beside format 2: a failure via an old instance, its retry via a new one', async () => {
    const { config, client, stream } = await setup();
    const t0 = Date.now() - 60_000;
    const failed = outcome({ at: t0, dur: 5, ok: false, injected: ['error'], retryAfterMs: 1 });
    // As a faultgate before format 2 wrote it: no `v`, a JSON array in `o`.
    await client.xAdd(streamKey(config.fleet!), '*', { i: 'old', n: '1', o: JSON.stringify([failed]) });
    const retry = outcome({ at: t0 + 40, dur: 5 });
    stream.observe(retry);
    await stream.flush();
    expectSame(await readOutcomes(client, config.fleet!), [failed, retry]);
    const report = await fleetReport(client, config.fleet!, config, { seed: null, configHash: 'x' });
    expect(report.agents[0]!.tools[0]!).toMatchObject({ requests: 2, incidents: 1, recovered: 1, open: 0 });
  });

  it('skips an entry of an unknown format or a damaged one, and logs it', async () => {
    const { config, client, stream, logger, lines } = await setup();
    const key = streamKey(config.fleet!);
    await client.xAdd(key, '*', { v: '3', i: 'future', n: '1', o: 'whatever' });
    await client.xAdd(key, '*', {
      v: FORMAT,
      i: 'bad',
      n: '1',
      b: '0',
      d: '["a"]',
      o: '0,7,0,0,0,0,0,0,200,1,,\n',
    });
    await client.xAdd(key, '*', { i: 'not-ours', x: 'y' });
    const ok = outcome({ at: Date.now() - 1_000 });
    stream.observe(ok);
    await stream.flush();
    const report = await fleetReport(client, config.fleet!, config, { seed: null, configHash: 'x' }, logger);
    expect(report.agents[0]!.tools[0]!).toMatchObject({ requests: 1 });
    logger.flush();
    await new Promise((r) => setImmediate(r));
    const line = lines.map((l) => JSON.parse(l)).find((l) => /skipped outcome stream entries/.test(l.msg));
    expect(line).toMatchObject({ skipped: 3, level: 40 });
  });
});

describe('EntryWriter', () => {
  it('grows its buffer for long lines and keeps every exchange', () => {
    const w = new EntryWriter();
    const want: ExchangeOutcome[] = [];
    const injected = Array.from({ length: 40 }, (_, i) => `fault-${i}`);
    for (let i = 0; i < 500; i++) {
      // Decimal fallbacks for both times (~25 bytes each) and 40 injected types: ~200 bytes a line.
      want.push(outcome({ at: Math.PI * (i + 1) * 1e-9, dur: Math.E * 1e-9, injected, retryAfterMs: 1 / 3 }));
      w.add(want[i]!);
    }
    const e = w.seal();
    expect(e.o.length).toBeGreaterThan(64 * 1024);
    const got: ExchangeOutcome[] = [];
    decodeEntry({ v: FORMAT, n: String(e.n), b: e.b, d: e.d, o: e.o.toString() }, got);
    expectSame(got, want);
  });

  it('truncates a sealed entry to its first exchanges', () => {
    const w = new EntryWriter();
    const want = Array.from({ length: 5 }, (_, i) => outcome({ at: epoch + i, body: `len:${i}` }));
    for (const o of want) w.add(o);
    const e = truncate(w.seal(), 2);
    expect(e.n).toBe(2);
    const got: ExchangeOutcome[] = [];
    decodeEntry({ v: FORMAT, b: e.b, d: e.d, o: e.o.toString() }, got);
    expectSame(got, want.slice(0, 2));
  });

  it('rejects a format 2 entry without its dictionary, and leaves nothing of a damaged one', () => {
    const got: ExchangeOutcome[] = [];
    expect(() => decodeEntry({ v: FORMAT, b: '0', o: '' }, got)).toThrow(EntryFormatError);
    const w = new EntryWriter();
    w.add(outcome({ at: epoch }));
    const e = w.seal();
    const damaged = `${e.o.toString()}0,1\n`;
    expect(() => decodeEntry({ v: FORMAT, b: e.b, d: e.d, o: damaged }, got)).toThrow(/a line of 2 fields/);
    expect(got).toEqual([]);
  });
});
