/**
 * Every failure faultgate reports, in one table: the same code appears in the JSON error
 * body, the log line and (lower-cased) in metric labels where one applies.
 */
export const errorCodes = {
  FAULTGATE_ERR_UPSTREAM_CONNECT: { status: 502, message: 'could not connect to the upstream' },
  FAULTGATE_ERR_UPSTREAM_TIMEOUT: { status: 504, message: 'the upstream did not answer in time' },
  FAULTGATE_ERR_UPSTREAM_RESET: { status: 502, message: 'the upstream closed the connection' },
  FAULTGATE_ERR_UPSTREAM_TLS: { status: 502, message: 'TLS handshake with the upstream failed' },
  FAULTGATE_ERR_UPSTREAM: { status: 502, message: 'the upstream request failed' },
  FAULTGATE_ERR_NO_UPSTREAM: { status: 502, message: 'no upstream is configured for this request' },
  FAULTGATE_ERR_FORWARD_DENIED: { status: 403, message: 'forward target is not in allow_hosts' },
  FAULTGATE_ERR_FORWARD_DISABLED: { status: 403, message: 'this listener does not accept proxy requests' },
  FAULTGATE_ERR_BAD_REQUEST: { status: 400, message: 'malformed request' },
  FAULTGATE_ERR_HEADERS_TOO_LARGE: { status: 431, message: 'request headers are too large' },
  FAULTGATE_ERR_CLIENT_TIMEOUT: { status: 408, message: 'the client did not send its request in time' },
  FAULTGATE_ERR_OVERLOADED: { status: 503, message: 'faultgate is at its configured limit' },
  FAULTGATE_ERR_OVERRIDE: { status: 400, message: 'malformed x-faultgate-fault header' },
  FAULTGATE_ERR_NOT_FOUND: { status: 404, message: 'not found' },
  FAULTGATE_ERR_UNAUTHORIZED: { status: 401, message: 'missing or wrong bearer token' },
  FAULTGATE_ERR_CONFLICT: { status: 409, message: 'the request conflicts with the current state' },
  FAULTGATE_ERR_BODY_TOO_LARGE: { status: 413, message: 'request body is too large' },
  FAULTGATE_ERR_CONFIG: { status: 400, message: 'invalid configuration' },
  FAULTGATE_ERR_INTERNAL: { status: 500, message: 'internal error' },
} as const;

export type ErrorCode = keyof typeof errorCodes;

export class FaultgateError extends Error {
  readonly status: number;
  constructor(
    readonly code: ErrorCode,
    detail?: string,
    options?: ErrorOptions,
  ) {
    super(detail ?? errorCodes[code].message, options);
    this.name = 'FaultgateError';
    this.status = errorCodes[code].status;
  }
}

/** The JSON body every faultgate-generated error answers with. */
export function errorBody(code: ErrorCode, detail?: string): string {
  return JSON.stringify({
    error: { code, message: detail ?? errorCodes[code].message, source: 'faultgate' },
  });
}
