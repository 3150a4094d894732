import { describe, expect, it } from 'vitest';
import type { Finding } from '../../src/observe/report-model.js';
import { MAX_PENDING_BROKEN } from '../../src/observe/tracker-retries.js';
import { type Send, setup, slos } from './tracker-fixtures.js';

const W = slos.recovery_window_s * 1000;

function findings(list: Send[], sweepAt?: number): Finding[] {
  const { send, tracker, report } = setup({ tools: [{ name: 'backup', fallback_for: ['search'] }] });
  send(...list);
  if (sweepAt !== undefined) tracker.sweep(sweepAt);
  return report().findings;
}

const count = (fs: Finding[], kind: Finding['kind']): number =>
  fs.filter((f) => f.kind === kind).reduce((n, f) => n + f.count, 0);

/** A failure carrying Retry-After 1 s, ending at 1000, followed by `next`. */
const ignored = (next: Partial<Send>): number =>
  count(
    findings([
      { at: 900, ok: false, retryAfterMs: 1000 },
      { at: 1500, ...next },
    ]),
    'ignores_retry_after',
  );

describe('retry detection', () => {
  it('a request with the same method, path and body key within the window after a failure is a retry', () => {
    expect(ignored({})).toBe(1);
  });

  it('a different method, path or body key is not a retry', () => {
    expect(ignored({ method: 'PUT' })).toBe(0);
    expect(ignored({ path: '/other' })).toBe(0);
    expect(ignored({ body: 'sha1:ffff' })).toBe(0);
    expect(ignored({ agent: 'coder' })).toBe(0);
    expect(ignored({ tool: 'llm' })).toBe(0);
  });

  it('a request started outside the window, or before the failure ended, is not a retry', () => {
    const late = findings([
      { at: 900, ok: false, retryAfterMs: 2 * W },
      { at: 1000 + W + 1, ok: false },
    ]);
    expect(count(late, 'ignores_retry_after')).toBe(0);
    const edge = findings([{ at: 900, ok: false, retryAfterMs: 2 * W }, { at: 1000 + W }]);
    expect(count(edge, 'ignores_retry_after')).toBe(1);
    const overlapping = findings([
      { at: 900, dur: 100, ok: false, retryAfterMs: 1000 },
      { at: 950, dur: 100 },
    ]);
    expect(count(overlapping, 'ignores_retry_after')).toBe(0);
  });

  it('each failure is retried at most once: a retry consumes it', () => {
    const fs = findings([
      { at: 900, ok: false, retryAfterMs: 5000 },
      { at: 1500 }, // retry, too soon, succeeds
      { at: 1700 }, // same request again: nothing left to retry
    ]);
    expect(count(fs, 'ignores_retry_after')).toBe(1);
  });

  it('a failed retry is the failure the next retry answers', () => {
    const fs = findings([
      { at: 900, ok: false, retryAfterMs: 1000 }, // ends 1000
      { at: 1500, ok: false, retryAfterMs: 1000 }, // too soon (500 ms); ends 1600
      { at: 2600 }, // 1000 ms after 1600: respects it
    ]);
    expect(count(fs, 'ignores_retry_after')).toBe(1);
  });
});

describe('findings', () => {
  it('ignores_retry_after: retries sooner than the injected Retry-After, counted per (agent, tool)', () => {
    const fs = findings([
      { at: 0, ok: false, retryAfterMs: 2000 }, // ends 100
      { at: 200, ok: false, retryAfterMs: 2000 }, // 100 ms later; ends 300
      { at: 500, ok: false, retryAfterMs: 2000 }, // ends 600
      { at: 2600 }, // exactly 2000 ms: fine
      { at: 10_000, ok: false, retryAfterMs: 2000 }, // ends 10_100
      { at: 10_200 },
    ]);
    expect(fs).toEqual([
      {
        kind: 'ignores_retry_after',
        agent: 'planner',
        tool: 'search',
        count: 3,
        message: 'planner retried search 3 times sooner than the injected Retry-After',
      },
    ]);
  });

  it('no Retry-After, no finding', () => {
    expect(count(findings([{ at: 0, ok: false }, { at: 150 }]), 'ignores_retry_after')).toBe(0);
  });

  it('accepted_broken_response: the next request after a broken response is not a retry', () => {
    const broken: Send = { at: 0, tool: 'llm', ok: false, broken: true, injected: ['truncate'] };
    const fs = findings([broken, { at: 500, tool: 'llm', body: 'sha1:next-question' }]);
    expect(fs).toEqual([
      {
        kind: 'accepted_broken_response',
        agent: 'planner',
        tool: 'llm',
        count: 1,
        message: 'planner accepted a truncated response from llm once without retrying',
      },
    ]);
    // retried: no finding
    expect(findings([broken, { at: 500, tool: 'llm' }])).toEqual([]);
    // another tool's request is not "that agent's next request to that tool"
    expect(
      count(
        findings([broken, { at: 500, tool: 'search' }, { at: 600, tool: 'llm' }]),
        'accepted_broken_response',
      ),
    ).toBe(0);
  });

  it('accepted_broken_response is decided when the window ends with no next request', () => {
    const list: Send[] = [{ at: 0, tool: 'llm', broken: true, ok: false, injected: ['sse'] }]; // ends 100
    expect(count(findings(list, 100 + W), 'accepted_broken_response')).toBe(0);
    const fs = findings(list, 100 + W + 1);
    expect(fs.find((f) => f.kind === 'accepted_broken_response')?.message).toBe(
      'planner accepted a broken stream from llm once without retrying',
    );
  });

  it('a same request after the window is not a retry; a request started before the end is not the next one', () => {
    const broken: Send = { at: 0, tool: 'llm', broken: true, ok: false }; // ends 100
    expect(count(findings([broken, { at: 100 + W + 1, tool: 'llm' }]), 'accepted_broken_response')).toBe(1);
    // a concurrent request (started at 50) finishing later decides nothing; the retry at 300 does
    expect(
      count(
        findings([broken, { at: 50, tool: 'llm', body: 'other' }, { at: 300, tool: 'llm' }]),
        'accepted_broken_response',
      ),
    ).toBe(0);
  });

  it('counts accepted broken responses per (agent, tool) and names mixed faults generically', () => {
    const list: Send[] = [];
    for (let i = 0; i < 14; i++) {
      list.push({
        at: i * 1000,
        tool: 'llm',
        broken: true,
        ok: false,
        body: `q${i}`,
        injected: ['latency', i % 2 ? 'truncate' : 'malformed'],
      });
    }
    list.push({ at: 100_000, tool: 'llm', body: 'last' });
    list.push({ at: 100_000, agent: 'coder', tool: 'llm', broken: true, ok: false, injected: ['truncate'] });
    list.push({ at: 100_500, agent: 'coder', tool: 'llm', body: 'other' });
    const fs = findings(list);
    // The failures also opened an incident that the success at 100 s came too late to close.
    expect(fs.map((f) => [f.kind, f.agent, f.count, f.message])).toEqual([
      [
        'accepted_broken_response',
        'planner',
        14,
        'planner accepted a broken response from llm 14 times without retrying',
      ],
      [
        'accepted_broken_response',
        'coder',
        1,
        'coder accepted a truncated response from llm once without retrying',
      ],
      ['never_recovered', 'planner', 1, 'llm never recovered for planner within 60 s (1 incident)'],
    ]);
  });

  it('a broken response recorded as a success still needs a retry', () => {
    const fs = findings([
      { at: 0, tool: 'llm', broken: true, injected: ['truncate'] },
      { at: 500, tool: 'llm', body: 'next' },
    ]);
    expect(count(fs, 'accepted_broken_response')).toBe(1);
  });

  it('keeps a bounded number of broken responses waiting per key', () => {
    const list: Send[] = [];
    // all concurrent (each starts before the others end), so none is the next request of another
    for (let i = 0; i < MAX_PENDING_BROKEN + 5; i++)
      list.push({ at: i, dur: 1000, tool: 'llm', broken: true, ok: false });
    expect(count(findings(list, 2000 + W), 'accepted_broken_response')).toBe(MAX_PENDING_BROKEN);
  });

  it('never_recovered: incidents closed only by timeout, with the window in the message', () => {
    const fs = findings(
      [
        { at: 0, ok: false },
        { at: 100_000, ok: false },
        { at: 300_000, tool: 'llm', ok: false },
      ],
      400_000,
    );
    expect(fs.map((f) => [f.kind, f.tool, f.count, f.message])).toEqual([
      ['never_recovered', 'search', 2, 'search never recovered for planner within 60 s (2 incidents)'],
      ['never_recovered', 'llm', 1, 'llm never recovered for planner within 60 s (1 incident)'],
    ]);
    // recovered by fallback: no finding
    expect(
      findings(
        [
          { at: 0, ok: false },
          { at: 1000, tool: 'backup' },
        ],
        400_000,
      ),
    ).toEqual([]);
  });
});
