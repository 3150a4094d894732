/**
 * The outcome stream against a real redis-server: every buffered exchange reaches the stream in
 * one flush, however many (entries carry up to 500 each), and the fleet report folds them all.
 */
import { Registry } from 'prom-client';
import { describe, expect, it, onTestFinished } from 'vitest';
import { fleetReport, OutcomeStream, STREAM_MAXLEN, streamKey, trimTo } from '../../src/fleet/outcomes.js';
import { createLogger } from '../../src/observe/logger.js';
import { outcome } from '../observe/tracker-fixtures.js';
import { fleetClient } from './redis-client.js';

async function setup() {
  const { config, client } = await fleetClient('os');
  const logger = createLogger('error', process.stderr);
  const stream = new OutcomeStream(config.fleet!, undefined, () => client, logger, new Registry());
  onTestFinished(() => stream.close((p) => p.then(() => undefined)));
  return { config, client, stream };
}

describe('fleet outcome stream', () => {
  it('sends a buffer of 5,000 exchanges in one flush (10 entries of 500) and the report folds all', async () => {
    const { config, client, stream } = await setup();
    const t0 = Date.now() - 60_000;
    // 2,500 agent runs: a 503, then its retry 1 ms after: 2,500 recovered incidents.
    for (let i = 0; i < 2_500; i++) {
      stream.observe(outcome({ at: t0 + i * 10, dur: 1, ok: false, body: `len:${i}` }));
      stream.observe(outcome({ at: t0 + i * 10 + 2, dur: 1, body: `len:${i}` }));
    }
    await stream.flush();
    const entries = await client.xRange(streamKey(config.fleet!), '-', '+');
    expect(entries.map((e) => Number(e.message.n))).toEqual(Array(10).fill(500));
    const report = await fleetReport(client, config.fleet!, config, { seed: null, configHash: 'x' });
    const row = report.agents[0]!.tools[0]!;
    expect(row).toMatchObject({ requests: 5_000, incidents: 2_500, recovered: 2_500, open: 0 });
  });

  it('trims to about STREAM_MAXLEN exchanges from the average entry size', () => {
    expect(trimTo(500)).toBe(STREAM_MAXLEN / 500);
    expect(trimTo(1)).toBe(STREAM_MAXLEN);
    expect(trimTo(0.2)).toBe(STREAM_MAXLEN);
  });
});
