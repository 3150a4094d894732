import { Transform, type TransformCallback } from 'node:stream';

/**
 * Where a body is cut: after `at` bytes (`longer`: the body is known to be longer, so the cut
 * need not wait for the next byte), at a `fraction` of a body buffered (up to `limit`) to learn
 * its length, or nowhere (`reason` says why).
 */
export type CutPlan =
  | { kind: 'at'; at: number; longer: boolean }
  | { kind: 'fraction'; fraction: number; limit: number }
  | { kind: 'none'; reason: string };

export interface CutHooks {
  /**
   * `end`: the output ends right at the cut (the rest of the input is read and dropped).
   * `hold`: the output never ends; `onCut` must end the connection.
   */
  readonly mode: 'end' | 'hold';
  /** Decided when the first byte (or the end) arrives, when the response framing is final. */
  plan(): CutPlan;
  /** Called once, right after the last byte before the cut was pushed. */
  onCut(stream: Transform): void;
  /** The body passes through whole: too large to buffer, not longer than the cut, or no plan. */
  onUntouched(reason: string): void;
}

/**
 * Passes the first bytes of a body and drops the rest, on purpose: that is the truncation. The
 * bytes before the cut are never changed, whatever the chunking of the input.
 */
export function cutStream(hooks: CutHooks): Transform {
  let plan: CutPlan | undefined;
  let buffered: Buffer[] | undefined;
  let size = 0;
  let sent = 0;
  let cut = false;
  /** Passing through whole, already reported through onUntouched. */
  let passing = false;

  const decide = (): CutPlan => {
    if (plan) return plan;
    plan = hooks.plan();
    if (plan.kind === 'none') {
      passing = true;
      hooks.onUntouched(plan.reason);
    }
    if (plan.kind === 'fraction') buffered = [];
    return plan;
  };

  const cutHere = (stream: Transform): void => {
    cut = true;
    if (hooks.mode === 'end') stream.push(null);
    hooks.onCut(stream);
  };

  /** Pushes what fits before `at`; cuts when the input shows (or the plan knows) there is more. */
  const take = (stream: Transform, chunk: Buffer, at: number, longer: boolean): void => {
    const room = at - sent;
    if (chunk.length > room) {
      if (room > 0) stream.push(chunk.subarray(0, room));
      sent = at;
      cutHere(stream);
      return;
    }
    if (chunk.length > 0) stream.push(chunk);
    sent += chunk.length;
    if (sent === at && longer) cutHere(stream);
  };

  return new Transform({
    transform(chunk: Buffer, _enc, cb: TransformCallback) {
      if (cut) {
        cb(); // after the cut: dropped by design
        return;
      }
      const p = decide();
      if (p.kind === 'at') take(this, chunk, p.at, p.longer);
      else if (p.kind === 'none' || !buffered) this.push(chunk);
      else if (size + chunk.length > p.limit) {
        // Too large to learn the length: everything so far, and from now on, passes untouched.
        for (const c of buffered) this.push(c);
        buffered = undefined;
        passing = true;
        hooks.onUntouched('body over max_body_bytes');
        this.push(chunk);
      } else {
        buffered.push(chunk);
        size += chunk.length;
      }
      cb();
    },
    flush(cb: TransformCallback) {
      const p = decide();
      if (!cut && p.kind === 'fraction' && buffered) {
        const body = Buffer.concat(buffered, size);
        buffered = undefined;
        take(this, body, Math.floor(p.fraction * size), false);
      }
      if (!cut) {
        if (!passing) hooks.onUntouched('body not longer than the cut');
        cb();
        return;
      }
      // `hold`: the message must stay incomplete; the connection is cut instead of ending it.
      if (hooks.mode === 'end') cb();
    },
  });
}
