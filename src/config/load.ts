import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { isMap, isScalar, isSeq, type Node, parseDocument } from 'yaml';
import type { z } from 'zod';
import { type Config, configSchema } from './schema.js';
import { unknownKeyMessage } from './suggest.js';

/** One problem in a config file, located at the line and column of the offending key or value. */
export interface ConfigProblem {
  file: string;
  line: number;
  col: number;
  path: string;
  message: string;
}

export type LoadResult =
  | { ok: true; config: Config; text: string }
  | { ok: false; problems: ConfigProblem[] };

const VAR = /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

/**
 * Substitutes `${VAR}` and `${VAR:-default}` (`$$` is a literal `$`). An unset variable with no
 * default is a problem rather than a silent empty string: a missing secret should fail loudly.
 * `toRaw` maps an offset in the substituted text back to the file as written, so problems found
 * after substitution are still reported where the user sees them.
 */
export function substituteEnv(
  text: string,
  env: NodeJS.ProcessEnv,
): { text: string; missing: { name: string; offset: number }[]; toRaw: (offset: number) => number } {
  const missing: { name: string; offset: number }[] = [];
  const edits: Edit[] = [];
  let delta = 0;
  const out = text.replace(
    VAR,
    (whole, name: string | undefined, fallback: string | undefined, offset: number) => {
      // Comments are not substituted: `# token: ${SECRET}` must not require SECRET.
      if (inComment(text, offset)) return whole;
      const value = env[name!];
      let replacement: string;
      if (whole === '$$') replacement = '$';
      else if (value === undefined && fallback === undefined) {
        // Reported once as missing, not again as a null where a string was expected.
        missing.push({ name: name!, offset });
        replacement = emptyScalar(text, offset, whole.length);
      } else {
        // As in the shell, `:-` also replaces a variable that is set but empty.
        const chosen = value !== undefined && (value !== '' || fallback === undefined) ? value : fallback!;
        replacement = chosen || emptyScalar(text, offset, whole.length);
      }
      edits.push({
        out: offset + delta,
        outEnd: offset + delta + replacement.length,
        raw: offset,
        rawEnd: offset + whole.length,
      });
      delta += replacement.length - whole.length;
      return replacement;
    },
  );
  return { text: out, missing, toRaw: (offset) => toRawOffset(edits, offset) };
}

/** Whether `offset` lies in a YAML comment: after a `#` that starts the line or follows a blank, outside quotes. */
function inComment(text: string, offset: number): boolean {
  const lineStart = text.lastIndexOf('\n', offset - 1) + 1;
  let quote = '';
  for (let i = lineStart; i < offset; i++) {
    const c = text[i]!;
    if (quote) {
      if (c === quote) quote = '';
    } else if (c === '"' || c === "'") quote = c;
    else if (c === '#' && (i === lineStart || text[i - 1] === ' ' || text[i - 1] === '\t')) return true;
  }
  return false;
}

/** One substitution: `[out, outEnd)` in the substituted text replaced `[raw, rawEnd)` in the file. */
interface Edit {
  out: number;
  outEnd: number;
  raw: number;
  rawEnd: number;
}

function toRawOffset(edits: readonly Edit[], offset: number): number {
  let lo = 0;
  let hi = edits.length - 1;
  let last = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (edits[mid]!.out <= offset) {
      last = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  if (last === -1) return offset;
  const e = edits[last]!;
  // Inside a substituted value (or at an empty one): point at the `${` that produced it.
  if (offset < e.outEnd || offset === e.out) return e.raw;
  return e.rawEnd + (offset - e.outEnd);
}

type Position = (offset: number) => { line: number; col: number };

/** 1-based line and column of an offset, like yaml's LineCounter but over any text. */
function lineCounter(text: string): Position {
  const starts = [0];
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) starts.push(i + 1);
  return (offset) => {
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (starts[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, col: offset - starts[lo]! + 1 };
  };
}

/**
 * An empty substitution that is a whole plain scalar (`token: ${T:-}`) would read as YAML null;
 * SPEC section 2 says it is an empty string, so it becomes `""` there (and stays empty inside
 * quotes or longer scalars).
 */
function emptyScalar(text: string, offset: number, length: number): string {
  const blank = (c: string | undefined) => c === ' ' || c === '\t';
  let before = offset - 1;
  while (blank(text[before])) before--;
  let after = offset + length;
  while (blank(text[after])) after++;
  const b = text[before];
  const spaced = before < offset - 1;
  // `key: ${X}`, `- ${X}`, `[${X}`, `{ k: ${X} }`, but not `a-${X}` or `host:${X}` (inside a scalar).
  const indicator =
    (b === ':' && spaced) || (b === '-' && spaced && (before === 0 || /\s/.test(text[before - 1]!)));
  const opens = b === undefined || b === '\n' || b === '[' || b === ',' || b === '{' || indicator;
  const a = text[after];
  const closes =
    a === undefined ||
    a === '\n' ||
    a === '\r' ||
    a === ',' ||
    a === '}' ||
    a === ']' ||
    (a === '#' && after > offset + length);
  return opens && closes ? '""' : '';
}

/** `listeners[0].listen` */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? String(part) : `.${String(part)}`;
  }
  return out || '(root)';
}

/** Finds the YAML node closest to `path`, preferring a map key's own position. */
function locate(doc: ReturnType<typeof parseDocument>, path: readonly PropertyKey[], key?: string): number {
  let node: unknown = doc.contents;
  let offset = (doc.contents as Node | null)?.range?.[0] ?? 0;
  const steps = key === undefined ? path : [...path, key];
  for (const step of steps) {
    if (isMap(node)) {
      const pair = node.items.find((p) => (isScalar(p.key) ? p.key.value : p.key) === step);
      if (!pair) break;
      const keyNode = pair.key as Node | null;
      offset = keyNode?.range?.[0] ?? offset;
      node = pair.value;
    } else if (isSeq(node) && typeof step === 'number') {
      const item = node.items[step] as Node | undefined;
      if (!item) break;
      offset = item.range?.[0] ?? offset;
      node = item;
    } else break;
  }
  // A leaf value is reported where the value starts (a bad port), a container at its key.
  if (key === undefined && (isScalar(node) || isSeq(node)) && node.range) offset = node.range[0];
  return offset;
}

/** `401, 403` when every branch of a union failed only as a literal at the union's own path. */
export function unionLiterals(branches: readonly (readonly z.core.$ZodIssue[])[]): string | undefined {
  const values: unknown[] = [];
  for (const branch of branches) {
    const only = branch[0];
    if (branch.length !== 1 || only?.code !== 'invalid_value' || only.path.length > 0) return undefined;
    values.push(...only.values);
  }
  return values.length > 0 ? values.map((v) => JSON.stringify(v)).join(', ') : undefined;
}

/** Where a problem at `path` (or at its key `key`) is: a file position, or 0:0 for an object config. */
type Locator = (path: readonly PropertyKey[], key?: string) => { line: number; col: number };

function issueProblems(
  file: string,
  where: Locator,
  issue: z.core.$ZodIssue,
  data: unknown,
): ConfigProblem[] {
  const at = (path: readonly PropertyKey[], key?: string, message = issue.message): ConfigProblem => {
    const pos = where(path, key);
    return { file, line: pos.line, col: pos.col, path: formatPath(key ? [...path, key] : path), message };
  };
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((k) => at(issue.path, k, unknownKeyMessage(configSchema, issue.path, k, data)));
  }
  if (issue.code === 'invalid_union') {
    // A union of literals (`401 | 403`): name every allowed value, not just the first branch's.
    const literals = unionLiterals(issue.errors);
    if (literals) return [at(issue.path, undefined, `expected one of ${literals}`)];
    // Otherwise report the branch that got furthest: one that accepted the value's type (and so
    // says what is wrong inside it), then the one with the fewest issues.
    const score = (b: readonly z.core.$ZodIssue[]) =>
      b.length + (b.some((sub) => sub.code === 'invalid_type' && sub.path.length === 0) ? 1000 : 0);
    const branch = issue.errors.reduce(
      (a, b) => (b.length > 0 && (a.length === 0 || score(b) < score(a)) ? b : a),
      issue.errors[0] ?? [],
    );
    if (branch.length > 0) {
      return branch.flatMap((sub) =>
        issueProblems(file, where, { ...sub, path: [...issue.path, ...sub.path] }, data),
      );
    }
  }
  return [at(issue.path)];
}

/**
 * Parses and validates config text; every problem is returned, never thrown. Relative file
 * paths in the config (`upstream.ca_file`, `ca.dir`) resolve against `baseDir`.
 */
export function parseConfig(
  file: string,
  raw: string,
  env: NodeJS.ProcessEnv = process.env,
  baseDir = dirname(file),
): LoadResult {
  const { text, missing, toRaw } = substituteEnv(raw, env);
  const rawPosition = lineCounter(raw);
  // Positions are found in the substituted text but reported in the file as written.
  const position: Position = (offset) => rawPosition(toRaw(offset));
  const doc = parseDocument(text, { prettyErrors: false, uniqueKeys: true });
  const problems: ConfigProblem[] = missing.map((m) => {
    const pos = rawPosition(m.offset);
    return {
      file,
      ...pos,
      path: '(env)',
      message: `environment variable ${m.name} is not set (write \${${m.name}:-default})`,
    };
  });
  for (const err of doc.errors) {
    const pos = position(err.pos[0]);
    problems.push({ file, ...pos, path: '(yaml)', message: err.message.split('\n')[0]! });
  }
  if (doc.errors.length > 0) return { ok: false, problems: sortProblems(problems) };
  const data: unknown = doc.toJS({ maxAliasCount: 100 }) ?? {};
  const result = configSchema.safeParse(data);
  if (!result.success) {
    // A value that is wrong only because its variable is unset was already reported as such.
    const unset = new Set(problems.map((p) => `${p.line}:${p.col}`));
    const where: Locator = (path, key) => position(locate(doc, path, key));
    for (const issue of result.error.issues) {
      for (const p of issueProblems(file, where, issue, data)) {
        if (!unset.has(`${p.line}:${p.col}`)) problems.push(p);
      }
    }
  }
  if (problems.length > 0 || !result.success) return { ok: false, problems: sortProblems(problems) };
  return { ok: true, config: finish(result.data, baseDir), text: raw };
}

/**
 * Validates a config given as an object (the library API) with the same schema and messages
 * as a file. Problems carry line and column 0: there is no file to point into. `source` names
 * the config in `file`.
 */
export function validateConfig(
  value: unknown,
  source = '(config)',
  baseDir = process.cwd(),
): { ok: true; config: Config } | { ok: false; problems: ConfigProblem[] } {
  const result = configSchema.safeParse(value);
  if (result.success) return { ok: true, config: finish(result.data, baseDir) };
  const where: Locator = () => ({ line: 0, col: 0 });
  return {
    ok: false,
    problems: result.error.issues.flatMap((issue) => issueProblems(source, where, issue, value)),
  };
}

/** Resolves the config's relative paths and freezes it: validated once, then never changed. */
function finish(config: Config, baseDir: string): Config {
  config.ca.dir = resolve(baseDir, config.ca.dir);
  if (config.upstream.ca_file) config.upstream.ca_file = resolve(baseDir, config.upstream.ca_file);
  return deepFreeze(config);
}

function sortProblems(problems: ConfigProblem[]): ConfigProblem[] {
  return problems.sort((a, b) => a.line - b.line || a.col - b.col);
}

/** A config file's text, or the problem that it cannot be read (as a failed load). */
export function readConfigText(file: string): { ok: true; raw: string } | Extract<LoadResult, { ok: false }> {
  try {
    return { ok: true, raw: readFileSync(file, 'utf8') };
  } catch (err) {
    const reason =
      (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : (err as Error).message;
    return { ok: false, problems: [{ file, line: 0, col: 0, path: '(file)', message: reason }] };
  }
}

export function loadConfigFile(file: string, env: NodeJS.ProcessEnv = process.env): LoadResult {
  const text = readConfigText(file);
  return text.ok ? parseConfig(file, text.raw, env) : text;
}

export function formatProblem(p: ConfigProblem): string {
  return `${p.file}:${p.line}:${p.col}  ${p.path}  ${p.message}`;
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
