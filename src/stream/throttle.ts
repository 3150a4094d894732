import { Transform, type TransformCallback } from 'node:stream';

/** Time for a throttle: the request's interruptible sleep in production, a virtual clock in tests. */
export interface Clock {
  now(): number;
  /** Resolves true after `ms`, or false early when the request is over. */
  sleep(ms: number): Promise<boolean>;
}

/** A slice is about 1/20 s of data: smooth pacing without a timer per byte. */
export function sliceSize(bytesPerS: number): number {
  return Math.max(1, Math.min(16 * 1024, Math.floor(bytesPerS / 20)));
}

/**
 * Paces a body to `bytesPerS`: chunks are cut into slices, and each slice waits until the link
 * would be free. A token bucket holding one slice: an idle upstream earns no burst beyond that,
 * and a late timer is caught up on the next slice, so N bytes take about N / bytesPerS seconds.
 * Bytes are never changed, reordered or dropped; when the request ends, the rest goes unpaced.
 */
export function throttle(bytesPerS: number, clock: Clock): Transform {
  const slice = sliceSize(bytesPerS);
  const sliceMs = (slice * 1000) / bytesPerS;
  /** When the link is free again (ms, clock time). */
  let freeAt = Number.NEGATIVE_INFINITY;
  return new Transform({
    transform(chunk: Buffer, _enc, cb: TransformCallback) {
      const pace = async (): Promise<void> => {
        for (let i = 0; i < chunk.length; i += slice) {
          const piece = chunk.subarray(i, i + slice);
          const now = clock.now();
          freeAt = Math.max(freeAt, now - sliceMs) + (piece.length * 1000) / bytesPerS;
          if (freeAt > now && !(await clock.sleep(freeAt - now))) {
            cb(null, chunk.subarray(i));
            return;
          }
          this.push(piece);
        }
        cb();
      };
      pace().catch((err: Error) => cb(err));
    },
  });
}
