/**
 * The `/api/v1` router of the admin listener (SPEC section 7). It only speaks HTTP: every
 * decision about sessions, safety, level and reload belongs to the `ControlPlane`, and the
 * router maps its results to status codes. Authentication happens before this (see auth.ts).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ControlPlane, ControlResult, SessionAction } from '../chaos/control.js';
import { formatProblem } from '../config/load.js';
import { type ErrorCode, type ErrorExtras, sendError } from '../errors.js';
import type { Report } from '../observe/report-model.js';
import { MAX_ADMIN_BODY_BYTES, readJsonBody } from './body.js';
import { experimentTypes } from './experiment-types.js';
import { serveReport } from './report-route.js';

export interface ApiOptions {
  /** Builds the current report for `GET /api/v1/report`; without it that route answers 404. */
  report?: (() => Report) | undefined;
  /** Fleet mode: builds `GET /api/v1/report?scope=fleet` from the fleet's outcome stream. */
  fleetReport?: (() => Promise<Report>) | undefined;
  /** Largest accepted request body (default 64 KiB); larger ones get 413. */
  maxBodyBytes?: number;
}

type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';
type Handler = (ctx: Ctx) => void | Promise<void>;
interface Ctx {
  req: IncomingMessage;
  res: ServerResponse;
  control: ControlPlane;
  opts: ApiOptions;
  /** The `{id}` segment of a session route, decoded. */
  id: string;
}

export function sendJson(
  res: ServerResponse,
  status: number,
  value: unknown,
  headers: Record<string, string> = {},
): void {
  const body = JSON.stringify(value);
  res.writeHead(status, {
    ...headers,
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
  });
  res.end(body);
}

const NO_STORE = { 'cache-control': 'no-store' } as const;

/** errors.ts's answer (with the problems, when any), never cached like every API answer. */
function sendApiError(res: ServerResponse, code: ErrorCode, message: string, extras: ErrorExtras = {}): void {
  sendError(res, code, message, { ...extras, headers: { ...NO_STORE, ...extras.headers } });
}

function sendResult<T>(
  res: ServerResponse,
  result: ControlResult<T>,
  wrap: (v: T) => unknown,
  ok = 200,
): void {
  if (result.ok) {
    sendJson(res, ok, wrap(result.value));
    return;
  }
  const code: ErrorCode =
    result.error === 'not_found'
      ? 'FAULTGATE_ERR_NOT_FOUND'
      : result.error === 'conflict'
        ? 'FAULTGATE_ERR_CONFLICT'
        : 'FAULTGATE_ERR_BAD_REQUEST';
  sendApiError(res, code, result.message, result.problems ? { problems: result.problems } : {});
}

/**
 * The body as JSON, or undefined once an error has been answered. `optional` bodies may be
 * empty (read as `{}`).
 */
async function body(ctx: Ctx, optional = false): Promise<unknown> {
  const read = await readJsonBody(ctx.req, ctx.opts.maxBodyBytes ?? MAX_ADMIN_BODY_BYTES);
  switch (read.kind) {
    case 'json':
      return read.value;
    case 'empty':
      if (optional) return {};
      sendApiError(ctx.res, 'FAULTGATE_ERR_BAD_REQUEST', 'the request body is empty: expected JSON', {
        problems: [{ path: '(root)', message: 'expected a JSON object' }],
      });
      return undefined;
    case 'too_large':
      // The rest of an oversized body is not worth reading: close once the answer is out.
      sendApiError(
        ctx.res,
        'FAULTGATE_ERR_BODY_TOO_LARGE',
        `request body is larger than ${read.limit} bytes`,
        {
          headers: { connection: 'close' },
        },
      );
      return undefined;
    case 'invalid':
      sendApiError(ctx.res, 'FAULTGATE_ERR_BAD_REQUEST', read.message, {
        problems: [{ path: '(root)', message: read.message }],
      });
      return undefined;
  }
}

function badRequest(res: ServerResponse, problems: { path: string; message: string }[]): void {
  const message = problems.map((p) => `${p.path}: ${p.message}`).join('; ');
  sendApiError(res, 'FAULTGATE_ERR_BAD_REQUEST', message, { problems });
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** Only `{}` or `{reason}`: a typo'd key should not silently fall back to the default reason. */
function abortReason(value: unknown): { reason: string } | { path: string; message: string }[] {
  if (!isObject(value)) return [{ path: '(root)', message: 'expected a JSON object' }];
  const problems = Object.keys(value)
    .filter((k) => k !== 'reason')
    .map((k) => ({ path: k, message: 'unknown key' }));
  const reason = value.reason ?? 'abort_all';
  if (typeof reason !== 'string' || reason.length === 0 || reason.length > 200) {
    problems.push({ path: 'reason', message: 'expected a string of 1..200 characters' });
  }
  return problems.length > 0 ? problems : { reason: reason as string };
}

function levelBody(value: unknown): number | { path: string; message: string }[] {
  if (!isObject(value)) return [{ path: '(root)', message: 'expected a JSON object' }];
  const problems = Object.keys(value)
    .filter((k) => k !== 'level')
    .map((k) => ({ path: k, message: 'unknown key' }));
  const level = value.level;
  if (typeof level !== 'number' || !Number.isFinite(level) || level < 0 || level > 10) {
    problems.push({ path: 'level', message: 'expected a number 0..10' });
  }
  return problems.length > 0 ? problems : (level as number);
}

async function reload({ res, control }: Ctx): Promise<void> {
  const result = await control.reload();
  if (result.ok) return sendJson(res, 200, { result: 'ok', ...result.value });
  if (result.error === 'invalid' || result.problems) {
    const problems = result.problems ?? [];
    const message = problems.length > 0 ? problems.map(formatProblem).join('\n') : result.message;
    return sendApiError(res, 'FAULTGATE_ERR_CONFIG', message, { problems });
  }
  sendResult(res, result, (v) => v);
}

const transition =
  (action: SessionAction): Handler =>
  ({ res, control, id }) =>
    sendResult(res, control.transition(id, action), (s) => s);

function getSession({ res, control, id }: Ctx): void {
  const session = control.getSession(id);
  if (session) sendJson(res, 200, session);
  else sendApiError(res, 'FAULTGATE_ERR_NOT_FOUND', `no session "${id}"`);
}

/** Routes without a session id, then the `{id}` routes by their suffix. */
const routes: Record<string, Partial<Record<Method, Handler>>> = {
  '/api/v1/chaos/sessions': {
    GET: ({ res, control }) => sendJson(res, 200, { sessions: control.listSessions() }),
    POST: async (ctx) => {
      const value = await body(ctx);
      if (value !== undefined) sendResult(ctx.res, ctx.control.createSession(value), (s) => s, 201);
    },
  },
  '/api/v1/chaos/abort-all': {
    POST: async (ctx) => {
      const value = await body(ctx, true);
      if (value === undefined) return;
      const parsed = abortReason(value);
      if (Array.isArray(parsed)) return badRequest(ctx.res, parsed);
      sendJson(ctx.res, 200, { aborted: ctx.control.abortAll(parsed.reason) });
    },
  },
  '/api/v1/chaos/resume': {
    POST: async (ctx) => {
      const value = await body(ctx, true);
      if (value === undefined) return;
      if (!isObject(value) || Object.keys(value).length > 0) {
        return badRequest(ctx.res, [{ path: '(root)', message: 'expected an empty body or {}' }]);
      }
      sendJson(ctx.res, 200, { resumed: ctx.control.resume(), ...ctx.control.chaosStatus() });
    },
  },
  '/api/v1/chaos/level': {
    GET: ({ res, control }) => sendJson(res, 200, control.chaosStatus()),
    PUT: async (ctx) => {
      const value = await body(ctx);
      if (value === undefined) return;
      const level = levelBody(value);
      if (Array.isArray(level)) return badRequest(ctx.res, level);
      sendResult(ctx.res, ctx.control.setLevel(level), () => ctx.control.chaosStatus());
    },
  },
  '/api/v1/chaos/experiment-types': {
    GET: ({ res }) => sendJson(res, 200, experimentTypes()),
  },
  '/api/v1/reload': { POST: reload },
  '/api/v1/report': {
    GET: ({ req, res, opts }) => serveReport(req, res, opts.report, opts.fleetReport),
  },
  '{id}': {
    GET: getSession,
    DELETE: ({ res, control, id }) => sendResult(res, control.deleteSession(id), (s) => s),
  },
  '{id}/start': { POST: transition('start') },
  '{id}/stop': { POST: transition('stop') },
  '{id}/abort': { POST: transition('abort') },
};

const SESSION = /^\/api\/v1\/chaos\/sessions\/([^/]+)(\/(?:start|stop|abort))?$/;

function route(path: string): { methods: Partial<Record<Method, Handler>>; id: string } | undefined {
  if (Object.hasOwn(routes, path) && path.startsWith('/')) return { methods: routes[path]!, id: '' };
  const m = SESSION.exec(path);
  if (!m) return undefined;
  let id: string;
  try {
    id = decodeURIComponent(m[1]!);
  } catch {
    return undefined; // a malformed %-escape names no session
  }
  return { methods: routes[`{id}${m[2] ?? ''}`]!, id };
}

/**
 * Answers one `/api/...` request. The report route works without a control plane; the chaos
 * and reload routes answer 404 when the instance has none.
 */
export async function handleApi(
  req: IncomingMessage,
  res: ServerResponse,
  control: ControlPlane | undefined,
  opts: ApiOptions = {},
): Promise<void> {
  const path = (req.url ?? '/').split('?', 1)[0]!;
  const found = route(path);
  if (!found) return sendApiError(res, 'FAULTGATE_ERR_NOT_FOUND', `no admin route ${path}`);
  const method = req.method === 'HEAD' ? 'GET' : (req.method as Method);
  const handler = Object.hasOwn(found.methods, method) ? found.methods[method] : undefined;
  if (!handler) {
    const allow = Object.keys(found.methods);
    if (allow.includes('GET')) allow.push('HEAD');
    return sendApiError(res, 'FAULTGATE_ERR_NOT_FOUND', `${req.method} is not allowed on ${path}`, {
      status: 405,
      headers: { allow: allow.join(', ') },
    });
  }
  if (!control && path !== '/api/v1/report') {
    return sendApiError(
      res,
      'FAULTGATE_ERR_NOT_FOUND',
      'the chaos control plane is not available in this instance',
    );
  }
  await handler({ req, res, control: control as ControlPlane, opts, id: found.id });
}
