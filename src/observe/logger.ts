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

const redactPaths = secretHeaders.flatMap((h) => [
  `headers["${h}"]`,
  `req.headers["${h}"]`,
  `*.headers["${h}"]`,
]);

export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  return pino(
    {
      level,
      base: { name: 'faultgate' },
      redact: { paths: redactPaths, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    destination ?? pino.destination({ dest: 1, sync: false }),
  );
}
