import { type Logger, pino } from 'pino';

export type { Logger } from 'pino';

/** Header names whose values never reach a log line (SPEC section 9). */
export const secretHeaders = [
  'authorization',
  'proxy-authorization',
  'x-api-key',
  'api-key',
  'cookie',
  'set-cookie',
];

/**
 * Where a header map can sit in a logged object. Named, not `*.headers`: a wildcard makes pino
 * walk every key of every logged object, ~12 µs per line (about 4 µs with named paths), which
 * the one-line-per-injected-fault log (SPEC section 9) paid on every faulted request.
 */
export const headerHolders = ['headers', 'req.headers', 'res.headers', 'request.headers', 'response.headers'];

const redactPaths = secretHeaders.flatMap((h) => headerHolders.map((holder) => `${holder}["${h}"]`));

/**
 * stdout is written in batches: a line waits until 15 KiB are buffered or 100 ms have passed
 * (pino flushes what is left at exit). One write per line cost ~100 µs of the process's CPU
 * per line on a pipe (a thread-pool round trip each), and an injected fault logs a line;
 * 15 KiB batches (sonic-boom's `minLength` stays under its 16 KiB `maxWrite`) cost ~3% less
 * CPU per request than 4 KiB ones at 10% injected faults (docs/performance.md).
 */
const BATCH_BYTES = 15 * 1024;
const FLUSH_MS = 100;

export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  return pino(
    {
      level,
      base: { name: 'faultgate' },
      redact: { paths: redactPaths, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    destination ??
      pino.destination({ dest: 1, sync: false, minLength: BATCH_BYTES, periodicFlush: FLUSH_MS }),
  );
}
