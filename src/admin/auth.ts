/**
 * Bearer-token check for every `/api` call (SPEC section 7). Both sides are hashed with SHA-256
 * before `timingSafeEqual`, so the comparison takes the same time whatever the token's length or
 * the first differing byte; the 401 answer never says which part was wrong.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { sendError } from '../errors.js';

const digest = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

/** The token from `Authorization: Bearer <token>` (scheme case-insensitive, RFC 7235), or undefined. */
export function bearerToken(header: string | undefined): string | undefined {
  const m = header === undefined ? null : /^Bearer +(\S+) *$/i.exec(header);
  return m ? m[1] : undefined;
}

/** True when no token is configured, or the request carries exactly that token. */
export function isAuthorized(req: IncomingMessage, token: string | undefined): boolean {
  if (!token) return true;
  // A missing header is still compared, so its timing looks like a wrong token's.
  const given = bearerToken(req.headers.authorization) ?? '';
  return timingSafeEqual(digest(given), digest(token));
}

export function sendUnauthorized(res: ServerResponse): void {
  sendError(res, 'FAULTGATE_ERR_UNAUTHORIZED', undefined, {
    headers: { 'www-authenticate': 'Bearer realm="faultgate"', 'cache-control': 'no-store' },
  });
}
