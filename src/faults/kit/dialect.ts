import type { Dialect, Rng } from '../../types.js';
import type { FaultContext, PreAction } from '../types.js';

/** What went wrong, independent of how an API words it. */
export type ErrorKind =
  | 'server'
  | 'bad_gateway'
  | 'unavailable'
  | 'overloaded'
  | 'timeout'
  | 'rate_limit'
  | 'quota'
  | 'auth'
  | 'forbidden'
  | 'bad_request';

export function kindForStatus(status: number): ErrorKind {
  if (status === 401) return 'auth';
  if (status === 403) return 'forbidden';
  if (status === 429) return 'rate_limit';
  if (status === 502) return 'bad_gateway';
  if (status === 503) return 'unavailable';
  if (status === 504 || status === 408) return 'timeout';
  if (status === 529) return 'overloaded';
  if (status >= 500) return 'server';
  return 'bad_request';
}

const messages: Record<ErrorKind, string> = {
  server: 'The server had an error while processing your request.',
  bad_gateway: 'Bad gateway.',
  unavailable: 'The service is temporarily unavailable.',
  overloaded: 'The server is overloaded. Please try again later.',
  timeout: 'The request timed out.',
  rate_limit: 'Rate limit reached for requests. Please try again later.',
  quota: 'You exceeded your current quota, please check your plan and billing details.',
  auth: 'Invalid authentication credentials.',
  forbidden: 'You do not have permission to access this resource.',
  bad_request: 'Invalid request.',
};

const openaiType: Record<ErrorKind, [type: string, code: string | null]> = {
  server: ['server_error', null],
  bad_gateway: ['server_error', null],
  unavailable: ['server_error', 'server_is_overloaded'],
  overloaded: ['server_error', 'server_is_overloaded'],
  timeout: ['server_error', 'timeout'],
  rate_limit: ['requests', 'rate_limit_exceeded'],
  quota: ['insufficient_quota', 'insufficient_quota'],
  auth: ['invalid_request_error', 'invalid_api_key'],
  forbidden: ['invalid_request_error', 'unsupported_country_region_territory'],
  bad_request: ['invalid_request_error', null],
};

const anthropicType: Record<ErrorKind, string> = {
  server: 'api_error',
  bad_gateway: 'api_error',
  unavailable: 'overloaded_error',
  overloaded: 'overloaded_error',
  timeout: 'timeout_error',
  rate_limit: 'rate_limit_error',
  quota: 'rate_limit_error',
  auth: 'authentication_error',
  forbidden: 'permission_error',
  bad_request: 'invalid_request_error',
};

const geminiStatus: Record<ErrorKind, string> = {
  server: 'INTERNAL',
  bad_gateway: 'UNAVAILABLE',
  unavailable: 'UNAVAILABLE',
  overloaded: 'UNAVAILABLE',
  timeout: 'DEADLINE_EXCEEDED',
  rate_limit: 'RESOURCE_EXHAUSTED',
  quota: 'RESOURCE_EXHAUSTED',
  auth: 'UNAUTHENTICATED',
  forbidden: 'PERMISSION_DENIED',
  bad_request: 'INVALID_ARGUMENT',
};

/** JSON-RPC error codes an MCP server would use. */
const jsonRpcCode: Record<ErrorKind, number> = {
  server: -32603,
  bad_gateway: -32603,
  unavailable: -32000,
  overloaded: -32000,
  timeout: -32001,
  rate_limit: -32002,
  quota: -32002,
  auth: -32003,
  forbidden: -32003,
  bad_request: -32602,
};

export interface ErrorSpec {
  status: number;
  kind?: ErrorKind;
  message?: string;
  headers?: Record<string, string>;
}

/**
 * A `req_` id of 32 hex digits, the shape OpenAI and Anthropic send. Drawn from the request's
 * seeded stream, not `randomUUID`, so a seeded run answers byte for byte the same.
 */
function requestId(rng: Rng): string {
  let hex = '';
  for (let i = 0; i < 4; i++) hex += rng.int(0, 0xffffffff).toString(16).padStart(8, '0');
  return `req_${hex}`;
}

/** Body and headers of an error as the tool's API would send it. */
export function dialectError(
  dialect: Dialect,
  spec: ErrorSpec,
  ctx: Pick<FaultContext, 'jsonRpcId' | 'rng'>,
): PreAction & { kind: 'respond' } {
  const kind = spec.kind ?? kindForStatus(spec.status);
  const message = spec.message ?? messages[kind];
  const json = { 'content-type': 'application/json' };
  let headers: Record<string, string>;
  let body: string;
  switch (dialect) {
    case 'openai': {
      const [type, code] = openaiType[kind];
      headers = { ...json, 'x-request-id': requestId(ctx.rng) };
      body = JSON.stringify({ error: { message, type, param: null, code } });
      break;
    }
    case 'anthropic':
      headers = { ...json, 'request-id': requestId(ctx.rng) };
      body = JSON.stringify({ type: 'error', error: { type: anthropicType[kind], message } });
      break;
    case 'gemini':
      headers = json;
      body = JSON.stringify({ error: { code: spec.status, message, status: geminiStatus[kind] } });
      break;
    case 'mcp': {
      const id = ctx.jsonRpcId ?? null;
      headers = json;
      // HTTP 200 is a tool-level failure (`isError` result); any other status a JSON-RPC error.
      body =
        spec.status === 200
          ? JSON.stringify({
              jsonrpc: '2.0',
              id,
              result: { isError: true, content: [{ type: 'text', text: message }] },
            })
          : JSON.stringify({ jsonrpc: '2.0', id, error: { code: jsonRpcCode[kind], message } });
      break;
    }
    case 'text':
      headers = { 'content-type': 'text/plain; charset=utf-8' };
      body = `${message}\n`;
      break;
    default:
      headers = json;
      body = JSON.stringify({ error: { status: spec.status, type: kind, message } });
  }
  return { kind: 'respond', status: spec.status, headers: { ...headers, ...spec.headers }, body };
}
