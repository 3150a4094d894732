import { Agent } from 'undici';
import type { Config } from '../config/schema.js';
import type { ErrorCode } from '../errors.js';
import type { UpstreamErrorKind } from '../observe/metrics.js';
import { upstreamTrust } from '../tls/trust.js';
import type { UpstreamTarget } from './context.js';

/** One undici Agent (a pool per origin) for every upstream of an instance. */
export function createUpstreamAgent(cfg: Config['upstream']): Agent {
  // The system roots plus the extra CA, parsed once (not per upstream connection).
  const secureContext = cfg.ca_file ? upstreamTrust(cfg.ca_file) : undefined;
  return new Agent({
    connect: {
      timeout: cfg.connect_timeout_ms,
      rejectUnauthorized: cfg.reject_unauthorized,
      ...(secureContext ? { secureContext } : {}),
    },
    headersTimeout: cfg.response_timeout_ms,
    bodyTimeout: cfg.response_timeout_ms,
    // No cap by default: a cap queues long-lived SSE streams behind each other.
    connections: cfg.max_connections_per_origin > 0 ? cfg.max_connections_per_origin : null,
  });
}

const connectCodes = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EADDRNOTAVAIL',
  'UND_ERR_CONNECT_TIMEOUT',
]);
const timeoutCodes = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'ETIMEDOUT']);

export interface UpstreamFailure {
  code: ErrorCode;
  kind: UpstreamErrorKind;
  /** The underlying cause as the client may see it, e.g. `ECONNREFUSED`. */
  cause?: string;
}

/** Maps an undici or socket error to faultgate's error code and the metric's `kind`. */
export function classifyUpstreamError(err: Error): UpstreamFailure {
  let e: (Error & { code?: string }) | undefined = err as Error & { code?: string };
  // undici wraps socket errors in `cause`; the innermost code says the most.
  for (let depth = 0; e && depth < 4; depth++) {
    const code = e.code ?? '';
    const cause = code || undefined;
    if (connectCodes.has(code)) return { code: 'FAULTGATE_ERR_UPSTREAM_CONNECT', kind: 'connect', cause };
    if (timeoutCodes.has(code)) return { code: 'FAULTGATE_ERR_UPSTREAM_TIMEOUT', kind: 'timeout', cause };
    if (/CERT|SSL|TLS|SELF_SIGNED|UNABLE_TO_VERIFY/.test(code)) {
      return { code: 'FAULTGATE_ERR_UPSTREAM_TLS', kind: 'connect', cause };
    }
    if (code === 'ECONNRESET' || code === 'EPIPE' || code === 'UND_ERR_SOCKET' || code === 'UND_ERR_CLOSED') {
      return { code: 'FAULTGATE_ERR_UPSTREAM_RESET', kind: 'reset', cause };
    }
    e = e.cause as typeof e;
  }
  return { code: 'FAULTGATE_ERR_UPSTREAM', kind: 'reset', cause: err.message };
}

export function parseUpstream(url: string): UpstreamTarget {
  const u = new URL(url);
  const basePath = u.pathname.endsWith('/') ? u.pathname.slice(0, -1) : u.pathname;
  return { origin: u.origin, host: u.host, basePath, protocol: u.protocol as 'http:' | 'https:' };
}

/** Each tool's own upstream, parallel to `config.tools`. */
export function toolTargets(config: Config): (UpstreamTarget | undefined)[] {
  return config.tools.map((t) => (t.upstream ? parseUpstream(t.upstream) : undefined));
}
