import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { ControlPlane } from '../chaos/control.js';
import { sendError } from '../errors.js';
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
    case '/metrics': {
      const text = await state.metrics.registry.metrics();
      res.writeHead(200, {
        'content-type': state.metrics.registry.contentType,
        'content-length': Buffer.byteLength(text),
      });
      res.end(text);
      return;
    }
    default:
      sendError(res, 'FAULTGATE_ERR_NOT_FOUND', `no admin route ${path}`);
  }
}
