/** How admin verbs print: aligned tables and sentences for a person, JSON for a program. */
import { type CliIo, isTty } from './command.js';

/** `--json` forces JSON; otherwise a TTY gets the human form. */
export const jsonOption = { json: { type: 'boolean' } } as const;
export const jsonHelp = '  --json          print JSON (the default when stdout is not a terminal)';

export function wantsJson(values: { json?: string | boolean | undefined }, io: CliIo): boolean {
  return values.json === true || !isTty(io);
}

export function printJson(io: CliIo, value: unknown): void {
  io.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** Columns padded to their widest cell; the last column is not padded. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return `${[line(header), ...rows.map(line)].join('\n')}\n`;
}
