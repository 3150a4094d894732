import { Transform, type TransformCallback } from 'node:stream';

/**
 * Collects a body of at most `limit` bytes and emits `rewrite(body)` at its end. A body that
 * grows past the limit is passed through untouched from then on (SPEC: body-rewriting faults
 * buffer at most max_body_bytes) and `onSkip` is told why. `rewrite` may return the body as is.
 */
export function bufferedRewrite(
  limit: number,
  rewrite: (body: Buffer) => Buffer | string,
  onSkip: (reason: string) => void,
): Transform {
  let chunks: Buffer[] | undefined = [];
  let size = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, cb: TransformCallback) {
      if (!chunks) {
        cb(null, chunk);
        return;
      }
      size += chunk.length;
      if (size > limit) {
        for (const c of chunks) this.push(c);
        chunks = undefined;
        onSkip('body over max_body_bytes');
        cb(null, chunk);
        return;
      }
      chunks.push(chunk);
      cb();
    },
    flush(cb: TransformCallback) {
      if (!chunks) {
        cb();
        return;
      }
      try {
        cb(null, rewrite(Buffer.concat(chunks, size)));
      } catch (err) {
        cb(err as Error);
      }
    },
  });
}

/** Parses a buffered body as JSON, or returns undefined (not JSON: the fault skips it). */
export function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    return undefined;
  }
}
