/**
 * Retry detection and the findings built on it (SPEC section 5), for one (agent, tool) key.
 *
 * A retry is a request with the same method, path and body key whose start lies within the
 * recovery window after a failure's end. Each failure is retried at most once: the retry
 * consumes it (and, if it fails too, becomes the failure the next retry answers), so an agent
 * sending the same request again after it recovered is not counted as retrying.
 */
import type { ExchangeOutcome } from './outcome.js';

/** Failures remembered per key for retry matching; older ones are forgotten first. */
export const MAX_RECENT_FAILURES = 8;
/** Broken responses per key still waiting for their next request. */
export const MAX_PENDING_BROKEN = 8;

interface Remembered {
  method: string;
  path: string;
  bodyKey: string;
  endedAt: number;
}

interface RecentFailure extends Remembered {
  /** The injected Retry-After in ms, -1 without one. */
  retryAfterMs: number;
  trace: string | undefined;
}

interface PendingBroken extends Remembered {
  what: string;
  trace: string | undefined;
}

/** How a finding names the broken response, from the fault that broke it. */
const brokenWords: Record<string, string> = {
  truncate: 'a truncated response',
  sse: 'a broken stream',
  malformed: 'a malformed response',
  empty: 'an empty response',
  reset: 'a reset response',
  close: 'a cut-off response',
};
const BROKEN = 'a broken response';

function describeBroken(injected: readonly string[]): string {
  for (const type of injected) {
    const word = brokenWords[type];
    if (word) return word;
  }
  return BROKEN;
}

const same = (a: Remembered, o: ExchangeOutcome): boolean =>
  a.method === o.method && a.path === o.path && a.bodyKey === o.bodyKey;

export class RetryWatch {
  private failures: RecentFailure[] | undefined;
  private broken: PendingBroken[] | undefined;
  retries = 0;
  /** Retries that came sooner than their failure's injected Retry-After. */
  ignoredRetryAfter = 0;
  /** Broken responses whose next request was not a retry (or that saw none in the window). */
  acceptedBroken = 0;
  /** What the accepted responses were, when they were all alike; `a broken response` otherwise. */
  acceptedWhat: string | undefined;
  /** The trace id (agent run) of the latest accepted broken response / ignored Retry-After. */
  acceptedTrace: string | undefined;
  ignoredTrace: string | undefined;

  /** True while a broken response waits for its next request (the sweep must look at this key). */
  get waiting(): boolean {
    return this.broken !== undefined && this.broken.length > 0;
  }

  /**
   * Judges `o` against what came before it: decides the broken responses it is the next request
   * for, and whether it retries a failure. Call before `remember(o)`.
   */
  judge(o: ExchangeOutcome, windowMs: number): void {
    if (this.broken) this.decideBroken(o, windowMs);
    const failures = this.failures;
    if (!failures) return;
    let best = -1;
    for (let i = 0; i < failures.length; i++) {
      const f = failures[i]!;
      const gap = o.startedAt - f.endedAt;
      if (gap >= 0 && gap <= windowMs && same(f, o) && (best < 0 || f.endedAt > failures[best]!.endedAt)) {
        best = i;
      }
    }
    if (best < 0) return;
    const f = failures[best]!;
    failures.splice(best, 1);
    this.retries++;
    if (f.retryAfterMs >= 0 && o.startedAt - f.endedAt < f.retryAfterMs) {
      this.ignoredRetryAfter++;
      // The failure was the faulted request: its trace names the run.
      this.ignoredTrace = f.trace ?? o.trace ?? this.ignoredTrace;
    }
  }

  private decideBroken(o: ExchangeOutcome, windowMs: number): void {
    const broken = this.broken!;
    for (let i = 0; i < broken.length; ) {
      const b = broken[i]!;
      // Only a request started after the broken one ended is its "next request".
      if (o.startedAt < b.endedAt) {
        i++;
        continue;
      }
      broken.splice(i, 1);
      const retried = o.startedAt - b.endedAt <= windowMs && same(b, o);
      if (!retried) this.accept(b);
    }
  }

  /** Remembers a failure for retry matching and a broken response for its next request. */
  remember(o: ExchangeOutcome): void {
    if (!o.success) {
      this.failures ??= [];
      if (this.failures.length >= MAX_RECENT_FAILURES) this.failures.shift();
      this.failures.push({
        method: o.method,
        path: o.path,
        bodyKey: o.bodyKey,
        endedAt: o.endedAt,
        retryAfterMs: o.retryAfterMs ?? -1,
        trace: o.trace,
      });
    }
    if (o.brokenByFault) {
      this.broken ??= [];
      // Beyond the bound the oldest is dropped undecided: no finding without evidence.
      if (this.broken.length >= MAX_PENDING_BROKEN) this.broken.shift();
      this.broken.push({
        method: o.method,
        path: o.path,
        bodyKey: o.bodyKey,
        endedAt: o.endedAt,
        what: describeBroken(o.injected),
        trace: o.trace,
      });
    }
  }

  /** Broken responses whose window ended with no next request were accepted. */
  expire(now: number, windowMs: number): void {
    const broken = this.broken;
    if (!broken) return;
    for (let i = 0; i < broken.length; ) {
      const b = broken[i]!;
      if (now - b.endedAt > windowMs) {
        broken.splice(i, 1);
        this.accept(b);
      } else i++;
    }
  }

  private accept(b: PendingBroken): void {
    this.acceptedBroken++;
    this.acceptedTrace = b.trace ?? this.acceptedTrace;
    if (this.acceptedWhat === undefined) this.acceptedWhat = b.what;
    else if (this.acceptedWhat !== b.what) this.acceptedWhat = BROKEN;
  }
}

const times = (n: number): string => (n === 1 ? 'once' : `${n} times`);

export function acceptedMessage(
  agent: string,
  tool: string,
  count: number,
  what: string | undefined,
): string {
  return `${agent} accepted ${what ?? BROKEN} from ${tool} ${times(count)} without retrying`;
}

export function retryAfterMessage(agent: string, tool: string, count: number): string {
  return `${agent} retried ${tool} ${times(count)} sooner than the injected Retry-After`;
}

export function neverRecoveredMessage(
  agent: string,
  tool: string,
  count: number,
  windowS: number,
  atExit = 0,
): string {
  const n = `${count} incident${count === 1 ? '' : 's'}`;
  // `faultgate run` closes what is open when the agent exits: "within 60 s" would overstate its wait.
  if (atExit === 0) return `${tool} never recovered for ${agent} within ${windowS} s (${n})`;
  if (atExit === count) return `${tool} never recovered for ${agent} before the agent exited (${n})`;
  return `${tool} never recovered for ${agent} within ${windowS} s or before the agent exited (${n})`;
}
