/**
 * Human-readable log lines for a terminal: pino still produces its JSON (one serialisation,
 * redaction included), and this sink rewrites each line as `12:00:01 INFO  message key=value`.
 * Machines get the JSON untouched (`--log-format json`, or stdout not a terminal).
 */
import { Writable } from 'node:stream';

export type LogFormat = 'json' | 'pretty';
export const LOG_FORMATS: readonly LogFormat[] = ['json', 'pretty'];

const LEVELS: Record<number, string> = {
  10: 'TRACE',
  20: 'DEBUG',
  30: 'INFO',
  40: 'WARN',
  50: 'ERROR',
  60: 'FATAL',
};
/** pino's own fields: shown in the line's prefix, or not at all. */
const OWN = new Set(['level', 'time', 'msg', 'name', 'pid', 'hostname']);

function value(v: unknown): string {
  if (typeof v === 'string') return /^[^\s"=]+$/.test(v) ? v : JSON.stringify(v);
  return JSON.stringify(v) ?? String(v);
}

/** One pino JSON line as a human line; a line that is not JSON passes through. */
export function prettyLine(line: string): string {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  const time = typeof entry.time === 'string' ? entry.time.slice(11, 19) : '';
  const level = (LEVELS[entry.level as number] ?? String(entry.level)).padEnd(5);
  const fields = Object.entries(entry)
    .filter(([k]) => !OWN.has(k))
    .map(([k, v]) => `${k}=${value(v)}`);
  return [time, level, entry.msg ?? '', ...fields].join(' ').trimEnd();
}

/** A sink for pino that writes human lines to `out`. */
export function prettyDestination(out: NodeJS.WritableStream): Writable {
  let pending = '';
  return new Writable({
    write(chunk: Buffer, _enc, cb) {
      pending += chunk.toString('utf8');
      let nl = pending.indexOf('\n');
      let text = '';
      while (nl !== -1) {
        text += `${prettyLine(pending.slice(0, nl))}\n`;
        pending = pending.slice(nl + 1);
        nl = pending.indexOf('\n');
      }
      if (text) out.write(text);
      cb();
    },
  });
}
