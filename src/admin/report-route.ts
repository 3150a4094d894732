/**
 * `GET /api/v1/report?format=json|markdown|html|terminal` (SPEC section 7). The report is built
 * per request by the caller's function (the recovery tracker); this route only renders it.
 * `format` defaults to json; `color=1` adds ANSI colour to the terminal format (an addition).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { sendError } from '../errors.js';
import {
  HTML_CSP,
  isReportFormat,
  REPORT_CONTENT_TYPES,
  REPORT_FORMATS,
  renderReport,
} from '../observe/report/index.js';
import type { Report } from '../observe/report-model.js';

const NO_STORE = { 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' } as const;

function send(res: ServerResponse, status: number, headers: Record<string, string>, body: string): void {
  res.writeHead(status, {
    ...headers,
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
  });
  res.end(body);
}

export async function serveReport(
  req: IncomingMessage,
  res: ServerResponse,
  build: (() => Report) | undefined,
  buildFleet?: () => Promise<Report>,
): Promise<void> {
  const query = new URL(req.url ?? '/', 'http://admin').searchParams;
  const format = query.get('format') ?? 'json';
  if (!isReportFormat(format)) {
    const detail = `unknown report format "${format}": use one of ${REPORT_FORMATS.join(', ')}`;
    sendError(res, 'FAULTGATE_ERR_BAD_REQUEST', detail, { headers: NO_STORE });
    return;
  }
  const scope = query.get('scope') ?? 'instance';
  if (scope !== 'instance' && scope !== 'fleet') {
    const detail = `unknown report scope "${scope}": use instance or fleet`;
    sendError(res, 'FAULTGATE_ERR_BAD_REQUEST', detail, { headers: NO_STORE });
    return;
  }
  if (scope === 'fleet' && !buildFleet) {
    const detail = 'the fleet report needs fleet mode (the `fleet` config key)';
    sendError(res, 'FAULTGATE_ERR_NOT_FOUND', detail, { headers: NO_STORE });
    return;
  }
  if (scope === 'instance' && !build) {
    const detail = 'reports are not available: this instance has no recovery tracker';
    sendError(res, 'FAULTGATE_ERR_NOT_FOUND', detail, { headers: NO_STORE });
    return;
  }
  let report: Report;
  try {
    report = scope === 'fleet' ? await buildFleet!() : build!();
  } catch (err) {
    sendError(res, 'FAULTGATE_ERR_FLEET_UNAVAILABLE', (err as Error).message, { headers: NO_STORE });
    return;
  }
  const color = format === 'terminal' && ['1', 'true'].includes(query.get('color') ?? '');
  const body = renderReport(report, format, { color });
  const headers: Record<string, string> = { 'content-type': REPORT_CONTENT_TYPES[format] };
  if (format === 'html') headers['content-security-policy'] = HTML_CSP;
  send(res, 200, headers, body);
}
