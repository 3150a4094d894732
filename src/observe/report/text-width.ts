/**
 * Terminal column widths of strings, enough for names that arrive from the network: combining
 * marks and zero-width characters take no column, East Asian wide characters and emoji take two.
 */

const MARK = /\p{M}/u;
const WIDE =
  /[\u1100-\u115f\u2e80-\u303e\u3041-\u33ff\u3400-\u4dbf\u4e00-\u9fff\ua000-\ua4cf\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\uffe0-\uffe6\u{1f300}-\u{1f64f}\u{1f900}-\u{1f9ff}\u{20000}-\u{3fffd}]/u;

function charWidth(ch: string): number {
  const cp = ch.codePointAt(0)!;
  // Combining marks, zero-width space/joiners, word joiner and variation selectors.
  if (MARK.test(ch) || (cp >= 0x200b && cp <= 0x200d) || cp === 0x2060 || (cp >= 0xfe00 && cp <= 0xfe0f))
    return 0;
  return WIDE.test(ch) ? 2 : 1;
}

export function displayWidth(s: string): number {
  let w = 0;
  for (const ch of s) w += charWidth(ch);
  return w;
}

/** Cuts `s` to at most `max` columns, ending in "…" when it was longer. */
export function truncate(s: string, max: number): string {
  if (displayWidth(s) <= max) return s;
  let w = 0;
  let out = '';
  for (const ch of s) {
    const cw = charWidth(ch);
    if (w + cw > max - 1) break;
    out += ch;
    w += cw;
  }
  return `${out}…`;
}

/** Fits `s` into exactly `width` columns: truncated, then padded on the right or the left. */
export function pad(s: string, width: number, right = false): string {
  const t = truncate(s, width);
  const fill = ' '.repeat(Math.max(0, width - displayWidth(t)));
  return right ? fill + t : t + fill;
}

/** Greedy word wrap to `width` columns; continuation lines start with `indent`. */
export function wrap(text: string, width: number, indent = ''): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    const candidate = line === '' ? word : `${line} ${word}`;
    const prefix = lines.length === 0 ? '' : indent;
    if (displayWidth(prefix + candidate) <= width || line === '') line = candidate;
    else {
      lines.push(prefix + line);
      line = word;
    }
  }
  if (line !== '' || lines.length === 0) lines.push((lines.length === 0 ? '' : indent) + line);
  // A single word wider than the line (a long name) is cut rather than overflowing.
  return lines.map((l) => truncate(l, width));
}
