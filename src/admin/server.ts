import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Registry } from 'prom-client';
import type { ControlPlane } from '../chaos/control.js';
import { sendError } from '../errors.js';
import { expositionSlices } from '../observe/exposition.js';
import type { Metrics } from '../observe/metrics.js';
import type { Report } from '../observe/report-model.js';
import { handleApi } from './api.js';
import { isAuthorized, sendUnauthorized } from './auth.js';

export interface AdminState {
  metrics: Metrics;
  /** true once every listener is bound and until shutdown begins. */
  ready(): boolean;
  /** Builds the current report (the recovery tracker); without it the report route answers 404. */
  report?: () => Report;
  /** Fleet mode: the fleet report (`?scope=fleet`), folded from the shared outcome stream. */
  fleetReport?: () => Promise<Report>;
  /** Sessions, level, reload: the `/api/v1/chaos/*` and `/api/v1/reload` routes answer 404 without it. */
  control?: ControlPlane;
  /**
   * `admin.token`: when non-empty, every `/api` call needs `Authorization: Bearer <token>`. Read
   * per request, so a reload can change it by assigning a new value.
   */
  token: string;
}

function json(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

/** The admin listener: health for probes and /metrics for scrapers (always open), /api behind the token. */
export function createAdminServer(state: AdminState): Server {
  const server = createServer({ headersTimeout: 10_000, requestTimeout: 30_000 }, (req, res) => {
    handle(state, req, res).catch((err: Error) => {
      sendError(res, 'FAULTGATE_ERR_INTERNAL', err.message);
    });
  });
  return server;
}

async function handle(state: AdminState, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = (req.url ?? '/').split('?', 1)[0]!;
  if (path === '/api' || path.startsWith('/api/')) {
    // Before routing, so an unauthenticated caller learns nothing, not even which routes exist.
    if (!isAuthorized(req, state.token)) return sendUnauthorized(res);
    return handleApi(req, res, state.control, { report: state.report, fleetReport: state.fleetReport });
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    sendError(res, 'FAULTGATE_ERR_NOT_FOUND', `${req.method} is not allowed on ${path}`, { status: 405 });
    return;
  }
  switch (path) {
    case '/healthz':
      json(res, 200, '{"status":"ok"}');
      return;
    case '/readyz':
      // Ready means serving traffic; an abort does not make the proxy unready, the body says it.
      json(
        res,
        state.ready() ? 200 : 503,
        JSON.stringify({
          status: state.ready() ? 'ready' : 'not ready',
          ...(state.control ? { chaos: state.control.chaosStatus() } : {}),
        }),
      );
      return;
    case '/metrics':
      await sendMetrics(res, state.metrics.registry);
      return;
    default:
      sendError(res, 'FAULTGATE_ERR_NOT_FOUND', `no admin route ${path}`);
  }
}

/** Buffers of about this size, one write each: encoding one is ~0.1 ms of the event loop. */
const CHUNK_CHARS = 64 * 1024;

/**
 * `GET /metrics`: rendered a slice at a time into buffers, then written a buffer at a time,
 * each after the previous one drained. Joining, encoding and writing a multi-MB body in one go
 * held the event loop for tens of ms (the proxied requests' p99 during scrapes, issue 13).
 */
async function sendMetrics(res: ServerResponse, registry: Registry): Promise<void> {
  const chunks: Buffer[] = [];
  let length = 0;
  let pending = '';
  const flush = (): void => {
    const chunk = Buffer.from(pending);
    chunks.push(chunk);
    length += chunk.length;
    pending = '';
  };
  for await (const slice of expositionSlices(registry)) {
    pending += slice;
    if (pending.length >= CHUNK_CHARS) flush();
  }
  if (pending !== '') flush();
  res.writeHead(200, { 'content-type': registry.contentType, 'content-length': length });
  for (const chunk of chunks) {
    if (res.destroyed) return;
    if (!res.write(chunk)) await drained(res);
  }
  res.end();
}

/** Resolves when the response can take more, or is gone (a scraper that hung up). */
function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}
