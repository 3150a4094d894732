/** The demo's progress: one line rewritten in place on a TTY, plain lines otherwise. */
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Progress, progressLine } from '../../src/demo/progress.js';
import { setup } from '../observe/tracker-fixtures.js';

function sink(isTTY: boolean) {
  const out = Object.assign(new PassThrough(), { isTTY });
  let text = '';
  out.on('data', (d) => (text += d));
  return { out, text: () => text };
}

describe('demo progress', () => {
  afterEach(() => vi.useRealTimers());

  it('progressLine: requests, injected faults and open incidents per agent, from the report', () => {
    const { send, report, clock } = setup();
    send({ at: 0, agent: 'naive', ok: false, injected: ['error'] });
    send({ at: 0, agent: 'resilient', ok: false, injected: ['error'] }, { at: 300, agent: 'resilient' });
    clock.now = 500;
    expect(progressLine(3.2, report(), ['naive', 'resilient', 'absent'])).toBe(
      '  3 s  naive: 1 req, 1 faults, 1 open  |  resilient: 2 req, 1 faults, 0 open  |  absent: 0 req, 0 faults, 0 open',
    );
  });

  it('a TTY gets one line rewritten each second and a newline at the end; a pipe gets lines', async () => {
    vi.useFakeTimers();
    for (const tty of [true, false]) {
      const s = sink(tty);
      let n = 0;
      const p = new Progress(s.out, () => `tick ${++n}`);
      p.start();
      await vi.advanceTimersByTimeAsync(2500);
      p.stop();
      await vi.advanceTimersByTimeAsync(2000); // stopped: nothing more
      expect(s.text()).toBe(tty ? '\rtick 1\x1b[K\rtick 2\x1b[K\n' : 'tick 1\ntick 2\n');
    }
  });
});
