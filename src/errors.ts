import { STATUS_CODES, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

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
  FAULTGATE_ERR_CA: { status: 500, message: 'the interception CA is missing, unreadable or not writable' },
  FAULTGATE_ERR_INTERNAL: { status: 500, message: 'internal error' },
  FAULTGATE_ERR_FLEET_UNAVAILABLE: { status: 503, message: 'the fleet Redis is unreachable' },
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

/** What an error answer may add to the code's defaults. */
export interface ErrorExtras {
  /** A status other than the code's own (the admin API's 405, a client error's 408). */
  status?: number;
  /** Itemised problems (`{path, message}` or config problems), listed in the body. */
  problems?: readonly unknown[];
  headers?: Readonly<Record<string, string>>;
}

/** The JSON body every faultgate-generated error answers with. */
export function errorBody(code: ErrorCode, detail?: string, problems?: readonly unknown[]): string {
  const error = { code, message: detail ?? errorCodes[code].message, source: 'faultgate' };
  return JSON.stringify({ error: problems ? { ...error, problems } : error });
}

/**
 * Answers a faultgate error on an HTTP response: the code's status, a JSON body and the code in
 * `x-faultgate-error`. Once the response has started nothing can be said any more, so it is
 * destroyed instead (the client sees a broken body, never a second head).
 */
export function sendError(res: ServerResponse, code: ErrorCode, detail?: string, extras?: ErrorExtras): void {
  if (res.headersSent || res.destroyed) {
    res.destroy();
    return;
  }
  const body = errorBody(code, detail, extras?.problems);
  res.writeHead(extras?.status ?? errorCodes[code].status, {
    ...extras?.headers,
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    'x-faultgate-error': code,
  });
  res.end(body);
}

/**
 * The same answer as raw bytes, for sockets no ServerResponse owns (CONNECT, upgrades, parse
 * errors). The reason phrase comes from the status, and the connection closes after it.
 */
export function rawErrorResponse(code: ErrorCode, detail?: string, extras?: ErrorExtras): string {
  const body = errorBody(code, detail, extras?.problems);
  const status = extras?.status ?? errorCodes[code].status;
  let head = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\ncontent-type: application/json\r\n`;
  head += `content-length: ${Buffer.byteLength(body)}\r\nx-faultgate-error: ${code}\r\n`;
  if (extras?.headers)
    for (const [name, value] of Object.entries(extras.headers)) head += `${name}: ${value}\r\n`;
  return `${head}connection: close\r\n\r\n${body}`;
}

/** Answers a raw socket with an error and closes it once the bytes are out. */
export function refuseSocket(socket: Socket, code: ErrorCode, detail?: string, extras?: ErrorExtras): void {
  socket.end(rawErrorResponse(code, detail, extras));
  socket.destroySoon?.();
}
