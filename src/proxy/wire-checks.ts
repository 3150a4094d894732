import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { sendError } from '../errors.js';

const refused = new WeakSet<Socket>();

/**
 * Request framing rules Node's parser leaves to the application (it already rejects CL+TE,
 * repeated or malformed Content-Length, obs-fold and bad chunk sizes with a 400). What is left
 * is refused here, before anything reaches an upstream, so faultgate never forwards a message
 * whose boundaries or body encoding a downstream server could read differently:
 * - HTTP/1.1 without `Host` (RFC 9112 3.2: a server must answer 400);
 * - any `Transfer-Encoding` but exactly `chunked`: undici re-frames the body, so a coding like
 *   `gzip, chunked` would reach the upstream decoded of its chunking but still gzip-coded,
 *   unlabelled. RFC 9112 6.1 lets a server refuse codings it does not implement.
 * The connection closes after the answer: its unread body bytes are never parsed as a request.
 */
export function refuseBadFraming(req: IncomingMessage, res: ServerResponse): boolean {
  // Requests pipelined behind a refused one are never forwarded: their connection is closing,
  // so no answer could reach the client (Node closes it after the refusal, dropping them).
  if (refused.has(req.socket)) return true;
  let problem: string | undefined;
  const te = req.headers['transfer-encoding'];
  if (te !== undefined && te !== 'chunked' && te.toLowerCase() !== 'chunked') {
    problem = `transfer-encoding "${te}" is not supported: only chunked`;
  } else if (req.headers.host === undefined && req.httpVersionMinor === 1 && req.httpVersionMajor === 1) {
    problem = 'HTTP/1.1 request without a Host header';
  }
  if (problem === undefined) return false;
  refused.add(req.socket);
  res.shouldKeepAlive = false;
  sendError(res, 'FAULTGATE_ERR_BAD_REQUEST', problem);
  return true;
}

/** True once a request on `socket` was refused: what follows on it is never answered again. */
export function wasRefused(socket: Socket): boolean {
  return refused.has(socket);
}
