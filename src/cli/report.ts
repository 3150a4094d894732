/**
 * `faultgate report [--admin URL] [--format terminal|json|markdown|html] [--out PATH]`: fetches
 * the report from a running proxy's admin API and prints or writes it.
 *
 * It fetches the JSON report and renders it here, so the terminal format is coloured by what
 * this process's stdout is (a TTY), not by the proxy, and every format comes from one request.
 */
import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { isReportFormat, REPORT_FORMATS, renderReport } from '../observe/report/index.js';
import type { Report } from '../observe/report-model.js';

export const DEFAULT_ADMIN_URL = 'http://127.0.0.1:9090';
const FETCH_TIMEOUT_MS = 15_000;

export const reportUsage = `Usage: faultgate report [--admin URL] [--fleet] [--format terminal|json|markdown|html] [--out PATH]

  --admin URL     admin API of a running proxy (default ${DEFAULT_ADMIN_URL}; FAULTGATE_ADMIN_URL)
  --format F      terminal (default), json, markdown or html (FAULTGATE_FORMAT)
  --out PATH      write to PATH instead of stdout (FAULTGATE_OUT)
  --fleet         the fleet report: every instance's exchanges from the fleet's Redis (fleet mode)
FAULTGATE_ADMIN_TOKEN, when set, is sent as the bearer token.`;

/** A problem the user can fix: printed as one line, exit code 2, no stack. */
export class ReportCommandError extends Error {}

export interface ReportIo {
  env: NodeJS.ProcessEnv;
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream;
}

function options(argv: string[], env: NodeJS.ProcessEnv) {
  try {
    return parseArgs({
      args: argv,
      allowPositionals: false,
      options: {
        admin: { type: 'string', default: env.FAULTGATE_ADMIN_URL || DEFAULT_ADMIN_URL },
        format: { type: 'string', short: 'f', default: env.FAULTGATE_FORMAT || 'terminal' },
        out: { type: 'string', short: 'o', default: env.FAULTGATE_OUT || undefined },
        fleet: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h' },
      },
    }).values;
  } catch (err) {
    throw new ReportCommandError(`${(err as Error).message}\n\n${reportUsage}`);
  }
}

/** `<admin>/api/v1/report?format=json`, keeping a path prefix (an admin API behind an ingress). */
export function reportUrl(admin: string, fleet = false): URL {
  let base: URL;
  try {
    base = new URL(admin.endsWith('/') ? admin : `${admin}/`);
  } catch {
    throw new ReportCommandError(`--admin "${admin}" is not a URL (expected e.g. ${DEFAULT_ADMIN_URL})`);
  }
  if (base.protocol !== 'http:' && base.protocol !== 'https:')
    throw new ReportCommandError(`--admin "${admin}" must be an http:// or https:// URL`);
  return new URL(`api/v1/report?format=json${fleet ? '&scope=fleet' : ''}`, base);
}

async function fetchReport(url: URL, token: string | undefined): Promise<Report> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  let res: Response;
  try {
    res = await fetch(url, { headers, signal: AbortSignal.timeout(FETCH_TIMEOUT_MS) });
  } catch (err) {
    const e = err as Error & { cause?: { code?: string; message?: string } };
    const why =
      e.name === 'TimeoutError'
        ? `no answer in ${FETCH_TIMEOUT_MS / 1000} s`
        : (e.cause?.code ?? e.cause?.message ?? e.message);
    throw new ReportCommandError(
      `cannot reach the faultgate admin API at ${url.origin} (${why}): is the proxy running? Set --admin or FAULTGATE_ADMIN_URL`,
    );
  }
  const text = await res.text();
  if (!res.ok) {
    let detail = text.slice(0, 300);
    try {
      const body = JSON.parse(text) as { error?: { code?: string; message?: string } };
      if (body.error) detail = `${body.error.code}: ${body.error.message}`;
    } catch {}
    const hint = res.status === 401 ? ' (set FAULTGATE_ADMIN_TOKEN to the admin token)' : '';
    throw new ReportCommandError(`the admin API at ${url.origin} answered ${res.status}: ${detail}${hint}`);
  }
  return parseReport(text, url);
}

function parseReport(text: string, url: URL): Report {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw new ReportCommandError(
      `the admin API at ${url.origin} did not answer JSON: is it a faultgate admin listener?`,
    );
  }
  const r = data as Partial<Report> | null;
  if (!r || typeof r !== 'object' || !Array.isArray(r.agents) || !r.overall || !Array.isArray(r.findings))
    throw new ReportCommandError(
      `the admin API at ${url.origin} answered something that is not a faultgate report`,
    );
  return { ...r, timeline: Array.isArray(r.timeline) ? r.timeline : [] } as Report;
}

/** Runs the command; resolves to the exit code (0, or 2 after printing the problem). */
export async function reportCommand(argv: string[], io: ReportIo = process): Promise<number> {
  try {
    const opts = options(argv, io.env);
    if (opts.help) {
      io.stdout.write(`${reportUsage}\n`);
      return 0;
    }
    const format = opts.format;
    if (!isReportFormat(format))
      throw new ReportCommandError(`unknown format "${format}": use one of ${REPORT_FORMATS.join(', ')}`);
    const report = await fetchReport(
      reportUrl(opts.admin, opts.fleet),
      io.env.FAULTGATE_ADMIN_TOKEN || undefined,
    );
    const color = !opts.out && io.stdout.isTTY === true && !io.env.NO_COLOR;
    const text = renderReport(report, format, { color });
    if (opts.out) {
      try {
        await writeFile(opts.out, text);
      } catch (err) {
        throw new ReportCommandError(`cannot write ${opts.out}: ${(err as Error).message}`);
      }
      io.stderr.write(`faultgate: ${format} report written to ${opts.out}\n`);
    } else io.stdout.write(text);
    return 0;
  } catch (err) {
    if (!(err instanceof ReportCommandError)) throw err;
    io.stderr.write(`faultgate report: ${err.message}\n`);
    return 2;
  }
}
