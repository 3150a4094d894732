import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import type { Peek } from './context.js';

/**
 * Request bodies outside the streaming fast path: the bounded peek used by MCP identity and
 * body faults (replayed to the upstream byte-identical), and the body key of retry detection.
 */

/**
 * A sha1 of the body when identity read it (an MCP matcher); otherwise its declared length: the
 * no-fault path never buffers or hashes a body. Decided when the request is planned, so a fault
 * that reads the body does not give an attempt a different key from its retry.
 */
export function bodyKeyOf(req: IncomingMessage, peek: Peek | undefined): string {
  if (peek?.complete) return createHash('sha1').update(peek.body).digest('base64');
  const cl = req.headers['content-length'];
  if (cl !== undefined && cl !== '0') return `len:${cl}`;
  return req.headers['transfer-encoding'] !== undefined ? 'chunked' : '';
}

export function requestHasBody(req: IncomingMessage): boolean {
  const cl = req.headers['content-length'];
  return (cl !== undefined && cl !== '0') || req.headers['transfer-encoding'] !== undefined;
}

export function hasJsonBody(req: IncomingMessage): boolean {
  const ct = req.headers['content-type'];
  return requestHasBody(req) && ct?.includes('json') === true;
}

/** Reads at most `limit` bytes of the body; the read bytes are replayed to the upstream unchanged. */
export function peekBody(req: IncomingMessage, limit: number): Promise<Peek> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = (complete: boolean) => {
      req.off('data', onData).off('end', onEnd).off('error', onError).off('close', onClose);
      if (!complete) req.pause();
      resolve({ chunks, body: complete ? Buffer.concat(chunks, size) : Buffer.alloc(0), complete });
    };
    const onData = (chunk: Buffer) => {
      chunks.push(chunk);
      size += chunk.length;
      if (size > limit) done(false);
    };
    const onEnd = () => done(true);
    const onError = (err: Error) => reject(err);
    const onClose = () => {
      if (!req.complete) reject(new Error('client left during the request body'));
    };
    req.on('data', onData).on('end', onEnd).on('error', onError).on('close', onClose);
  });
}

/** What goes upstream after a peek: the whole body when it was read, else the read bytes then the rest. */
export function bodyAfterPeek(peek: Peek, req: IncomingMessage): Buffer | Readable {
  return peek.complete ? peek.body : Readable.from(replay(peek, req));
}

async function* replay(peek: Peek, req: IncomingMessage): AsyncGenerator<Buffer> {
  yield* peek.chunks;
  for await (const chunk of req) yield chunk as Buffer;
}
