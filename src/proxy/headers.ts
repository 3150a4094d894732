import type { IncomingHttpHeaders } from 'node:http';

/**
 * Headers that describe one hop, never forwarded (RFC 9110 section 7.6.1), plus `expect`
 * (faultgate answers `100 Continue` itself; undici refuses to send it) and `host` (rewritten).
 */
const hopByHop = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'http2-settings',
  'expect',
  'host',
]);

/** faultgate's own request headers (`x-faultgate-fault`, ...) never reach an upstream. */
const OWN_PREFIX = 'x-faultgate-';

function connectionTokens(value: string | string[] | undefined): Set<string> | undefined {
  if (!value) return undefined;
  // The common values name no extra header: skip the split on every request.
  if (value === 'keep-alive' || value === 'close' || value === 'Keep-Alive' || value === 'Close')
    return undefined;
  const tokens = (Array.isArray(value) ? value.join(',') : value)
    .split(',')
    .map((t) => t.trim().toLowerCase());
  return new Set(tokens.filter((t) => t !== '' && t !== 'close' && t !== 'keep-alive'));
}

export interface ForwardedInfo {
  clientIp: string;
  proto: string;
  host: string | undefined;
}

/**
 * The upstream request's headers as a flat [name, value, ...] list from the raw headers, so
 * duplicates and order survive. `forwarded` adds X-Forwarded-For/-Proto/-Host (reverse mode).
 */
export function upstreamRequestHeaders(
  rawHeaders: readonly string[],
  parsed: IncomingHttpHeaders,
  host: string,
  forwarded: ForwardedInfo | undefined,
): string[] {
  const extra = connectionTokens(parsed.connection);
  const out: string[] = ['host', host];
  let xff: string | undefined;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!;
    const lower = name.toLowerCase();
    if (hopByHop.has(lower) || lower.startsWith(OWN_PREFIX) || extra?.has(lower)) continue;
    if (forwarded && lower === 'x-forwarded-for') {
      xff = xff === undefined ? rawHeaders[i + 1] : `${xff}, ${rawHeaders[i + 1]}`;
      continue;
    }
    if (forwarded && (lower === 'x-forwarded-proto' || lower === 'x-forwarded-host')) continue;
    out.push(name, rawHeaders[i + 1]!);
  }
  if (forwarded) {
    out.push('x-forwarded-for', xff === undefined ? forwarded.clientIp : `${xff}, ${forwarded.clientIp}`);
    out.push('x-forwarded-proto', forwarded.proto);
    if (forwarded.host) out.push('x-forwarded-host', forwarded.host);
  }
  return out;
}

/** The response headers undici parsed, minus hop-by-hop ones, ready for `res.writeHead`. */
export function clientResponseHeaders(headers: IncomingHttpHeaders): IncomingHttpHeaders {
  const extra = connectionTokens(headers.connection);
  const out: IncomingHttpHeaders = {};
  for (const name in headers) {
    if (hopByHop.has(name) || extra?.has(name)) continue;
    out[name] = headers[name];
  }
  return out;
}
