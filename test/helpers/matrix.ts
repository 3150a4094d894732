import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * One row of the reliability matrix (docs/reliability.md): what a case fed faultgate, what was
 * required and what was observed in this run. `npm run reliability:doc` renders the files.
 */
export interface MatrixRow {
  case: string;
  required: string;
  observed: string;
  ok: boolean;
}

/** Where the test run leaves its observations (git-ignored). */
export const MATRIX_DIR = join(process.cwd(), '.reliability');

/** Writes the rows of one area, e.g. `smuggling`, replacing the previous run's. */
export function writeMatrix(
  area: string,
  title: string,
  rows: readonly MatrixRow[],
  extra: Record<string, unknown> = {},
): void {
  mkdirSync(MATRIX_DIR, { recursive: true });
  const data = { area, title, generated_at: new Date().toISOString(), rows, ...extra };
  writeFileSync(join(MATRIX_DIR, `${area}.json`), `${JSON.stringify(data, null, 2)}\n`);
}
