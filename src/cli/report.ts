/**
 * `faultgate report [--admin URL] [--format terminal|json|markdown|html] [--out PATH]`: fetches
 * the report from a running proxy's admin API and prints or writes it.
 *
 * It fetches the JSON report and renders it here, so the terminal format is coloured by what
 * this process's stdout is (a TTY), not by the proxy, and every format comes from one request.
 * Unlike the other admin verbs, every failure exits 2 (as it always did): a report that cannot
 * be had is a setup problem for the CI step that asked for it.
 */
import { writeFile } from 'node:fs/promises';
import { isReportFormat, REPORT_FORMATS, renderReport } from '../observe/report/index.js';
import type { Report } from '../observe/report-model.js';
import { AdminClient, adminHelp, adminOption, tokenHelp } from './admin-client.js';
import { GateOptionError, gateFailures, parseMaxUnrecovered, parseMinGrade } from './gate.js';
import { CliError, type CliIo, type Command, EXIT_USAGE, guarded, isTty, parseCommand } from './command.js';

export const reportUsage = `Usage: faultgate report [--admin URL] [--fleet] [--format terminal|json|markdown|html]
                        [--out PATH] [--min-grade G] [--max-unrecovered N]

Fetches the recovery report (SPEC section 8) from a running faultgate and prints it.

Options:
${adminHelp}
  --format F      terminal (default), json, markdown or html (FAULTGATE_FORMAT)
  --out PATH      write to PATH instead of stdout (FAULTGATE_OUT)
  --fleet         the fleet report: every instance's exchanges from the fleet's Redis (fleet mode)
  --min-grade G   exit 1 when the overall grade is below G (A..F; FAULTGATE_MIN_GRADE)
  --max-unrecovered N
                  exit 1 when more than N incidents are unrecovered or still open
                  (FAULTGATE_MAX_UNRECOVERED)
  -h, --help      this help
${tokenHelp}

Exit codes: 0 printed or written (and the gate passed); 1 the gate failed (the reason on stderr,
the report is still printed); 2 usage error, admin API unreachable or refusing, file not writable.`;

// Kept for modules written against the earlier report.ts (same shapes, now shared by every admin verb).
export { DEFAULT_ADMIN_URL } from './admin-client.js';
export type ReportIo = CliIo;

function parseReport(data: unknown, origin: string): Report {
  const r = data as Partial<Report> | null;
  if (!r || typeof r !== 'object' || !Array.isArray(r.agents) || !r.overall || !Array.isArray(r.findings))
    throw new CliError(`the admin API at ${origin} answered something that is not a faultgate report`);
  return { ...r, timeline: Array.isArray(r.timeline) ? r.timeline : [] } as Report;
}

async function run(argv: string[], io: CliIo): Promise<number> {
  const { values } = parseCommand(
    argv,
    {
      ...adminOption,
      format: { type: 'string', short: 'f' },
      out: { type: 'string', short: 'o' },
      fleet: { type: 'boolean' },
      'min-grade': { type: 'string' },
      'max-unrecovered': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    0,
  );
  if (values.help) {
    io.stdout.write(`${reportUsage}\n`);
    return 0;
  }
  const format = (values.format as string | undefined) ?? (io.env.FAULTGATE_FORMAT || 'terminal');
  const out = (values.out as string | undefined) ?? (io.env.FAULTGATE_OUT || undefined);
  if (!isReportFormat(format))
    throw new CliError(`unknown format "${format}": use one of ${REPORT_FORMATS.join(', ')}`);
  let gate: Parameters<typeof gateFailures>[1];
  try {
    gate = {
      minGrade: parseMinGrade((values['min-grade'] as string | undefined) ?? io.env.FAULTGATE_MIN_GRADE),
      maxUnrecovered: parseMaxUnrecovered(
        (values['max-unrecovered'] as string | undefined) ?? io.env.FAULTGATE_MAX_UNRECOVERED,
      ),
    };
  } catch (err) {
    if (err instanceof GateOptionError) throw new CliError(err.message, EXIT_USAGE);
    throw err;
  }
  const client = AdminClient.from(values.admin as string | undefined, io.env);
  const data = await client.request<unknown>(
    'GET',
    values.fleet ? 'api/v1/report?format=json&scope=fleet' : 'api/v1/report?format=json',
  );
  const report = parseReport(data, client.base.origin);
  const color = !out && isTty(io) && !io.env.NO_COLOR;
  const text = renderReport(report, format, { color });
  if (out) {
    try {
      await writeFile(out, text);
    } catch (err) {
      throw new CliError(`cannot write ${out}: ${(err as Error).message}`);
    }
    io.stderr.write(`faultgate: ${format} report written to ${out}\n`);
  } else io.stdout.write(text);
  const missed = gateFailures(report, gate);
  for (const m of missed) io.stderr.write(`faultgate report: gate failed: ${m}\n`);
  return missed.length > 0 ? 1 : 0;
}

/** Runs the command; resolves to the exit code (0, 1 when the gate failed, or 2 after printing the problem). */
export async function reportCommand(argv: string[], io: CliIo = process): Promise<number> {
  const code = await guarded('report', reportUsage, io, async () => {
    try {
      return await run(argv, io);
    } catch (err) {
      // Every report failure is exit 2 (see above).
      if (err instanceof CliError) throw new CliError(err.message, EXIT_USAGE);
      throw err;
    }
  });
  return code ?? 0;
}

export const command: Command = {
  help: reportUsage,
  run: reportCommand,
};
