/**
 * Reads a JSON request body with a hard size limit. A declared `content-length` over the limit
 * is refused before a byte is read; a chunked body is counted as it arrives and the rest is
 * discarded once the limit is passed, so the client can finish sending and read the 413.
 */
import type { IncomingMessage } from 'node:http';

/** SPEC: request bodies are limited; admin bodies are small (a session is a few KiB). */
export const MAX_ADMIN_BODY_BYTES = 64 * 1024;

export type JsonBody =
  | { kind: 'json'; value: unknown }
  | { kind: 'empty' }
  | { kind: 'too_large'; limit: number }
  | { kind: 'invalid'; message: string };

function collect(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        chunks.length = 0;
        req.off('data', onData);
        req.resume(); // drain and discard what is still coming
        resolve(undefined);
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.once('end', () => resolve(size > limit ? undefined : Buffer.concat(chunks)));
    req.once('error', reject);
  });
}

export async function readJsonBody(req: IncomingMessage, limit = MAX_ADMIN_BODY_BYTES): Promise<JsonBody> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) {
    req.resume();
    return { kind: 'too_large', limit };
  }
  const raw = await collect(req, limit);
  if (raw === undefined) return { kind: 'too_large', limit };
  const text = raw.toString('utf8').replace(/^\uFEFF/, '');
  if (text.trim() === '') return { kind: 'empty' };
  try {
    return { kind: 'json', value: JSON.parse(text) };
  } catch (err) {
    return { kind: 'invalid', message: `invalid JSON: ${(err as Error).message}` };
  }
}
