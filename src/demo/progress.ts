/**
 * The demo's live progress, once a second: requests, injected faults and open incidents per
 * agent, read from the tracker. A TTY gets one line rewritten in place; a pipe gets plain lines.
 */
import type { Report } from '../observe/report-model.js';

export function progressLine(elapsedS: number, report: Report, agents: readonly string[]): string {
  const parts = agents.map((name) => {
    const row = report.agents.find((a) => a.agent === name);
    const faults = row ? Object.values(row.faults).reduce((n, x) => n + x, 0) : 0;
    return `${name}: ${row?.requests ?? 0} req, ${faults} faults, ${row?.open ?? 0} open`;
  });
  return `${String(Math.round(elapsedS)).padStart(3)} s  ${parts.join('  |  ')}`;
}

export class Progress {
  private timer: NodeJS.Timeout | undefined;
  private readonly started = performance.now();
  private last = '';

  constructor(
    private readonly out: NodeJS.WritableStream & { isTTY?: boolean },
    private readonly line: (elapsedS: number) => string,
  ) {}

  start(): void {
    this.timer = setInterval(() => this.tick(), 1000);
  }

  private tick(): void {
    this.last = this.line((performance.now() - this.started) / 1000);
    // \r and "erase to end of line": the line shrinks cleanly when a number loses a digit.
    this.out.write(this.out.isTTY ? `\r${this.last}\x1b[K` : `${this.last}\n`);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    if (this.out.isTTY && this.last) this.out.write('\n');
  }
}
