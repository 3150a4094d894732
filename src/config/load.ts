import { readFileSync } from 'node:fs';
import { isMap, isScalar, isSeq, LineCounter, type Node, parseDocument } from 'yaml';
import type { z } from 'zod';
import { type Config, configSchema } from './schema.js';

/** One problem in a config file, located at the line and column of the offending key or value. */
export interface ConfigProblem {
  file: string;
  line: number;
  col: number;
  path: string;
  message: string;
}

export type LoadResult = { ok: true; config: Config; text: string } | { ok: false; problems: ConfigProblem[] };

const VAR = /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

/**
 * Substitutes `${VAR}` and `${VAR:-default}` (`$$` is a literal `$`). An unset variable with no
 * default is a problem rather than a silent empty string: a missing secret should fail loudly.
 */
export function substituteEnv(
  text: string,
  env: NodeJS.ProcessEnv,
): { text: string; missing: { name: string; offset: number }[] } {
  const missing: { name: string; offset: number }[] = [];
  const out = text.replace(VAR, (whole, name: string | undefined, fallback: string | undefined, offset: number) => {
    if (whole === '$$') return '$';
    const value = env[name!];
    if (value !== undefined && (value !== '' || fallback === undefined)) return value;
    if (fallback !== undefined) return fallback;
    missing.push({ name: name!, offset });
    return '';
  });
  return { text: out, missing };
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

function issueProblems(
  file: string,
  doc: ReturnType<typeof parseDocument>,
  lines: LineCounter,
  issue: z.core.$ZodIssue,
): ConfigProblem[] {
  const at = (path: readonly PropertyKey[], key?: string, message = issue.message): ConfigProblem => {
    const pos = lines.linePos(locate(doc, path, key));
    return { file, line: pos.line, col: pos.col, path: formatPath(key ? [...path, key] : path), message };
  };
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((k) => at(issue.path, k, 'unknown key'));
  }
  if (issue.code === 'invalid_union') {
    // Report the most specific branch's issues, which say far more than "invalid input".
    const branch = issue.errors.reduce((a, b) => (b.length < a.length && b.length > 0 ? b : a), issue.errors[0] ?? []);
    if (branch.length > 0) {
      return branch.flatMap((sub) => issueProblems(file, doc, lines, { ...sub, path: [...issue.path, ...sub.path] }));
    }
  }
  return [at(issue.path)];
}

/** Parses and validates config text; every problem is returned, never thrown. */
export function parseConfig(file: string, raw: string, env: NodeJS.ProcessEnv = process.env): LoadResult {
  const { text, missing } = substituteEnv(raw, env);
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const problems: ConfigProblem[] = missing.map((m) => {
    const pos = lines.linePos(m.offset);
    return { file, ...pos, path: '(env)', message: `environment variable ${m.name} is not set (write \${${m.name}:-default})` };
  });
  for (const err of doc.errors) {
    const pos = lines.linePos(err.pos[0]);
    problems.push({ file, ...pos, path: '(yaml)', message: err.message.split('\n')[0]! });
  }
  if (doc.errors.length > 0) return { ok: false, problems };
  const result = configSchema.safeParse(doc.toJS({ maxAliasCount: 100 }) ?? {});
  if (!result.success) {
    for (const issue of result.error.issues) problems.push(...issueProblems(file, doc, lines, issue));
  }
  if (problems.length > 0 || !result.success) {
    problems.sort((a, b) => a.line - b.line || a.col - b.col);
    return { ok: false, problems };
  }
  return { ok: true, config: deepFreeze(result.data), text: raw };
}

export function loadConfigFile(file: string, env: NodeJS.ProcessEnv = process.env): LoadResult {
  let raw: string;
  try {
    raw = readFileSync(file, 'utf8');
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : (err as Error).message;
    return { ok: false, problems: [{ file, line: 0, col: 0, path: '(file)', message: reason }] };
  }
  return parseConfig(file, raw, env);
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
