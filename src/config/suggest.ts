/**
 * "Did you mean" for unknown config keys: the known keys at the problem's path, read from the
 * zod schema itself (so the suggestion can never name a key the schema does not accept), and
 * the closest one by edit distance.
 */
import type { z } from 'zod';
import { faultAliases, faultSchema, isFaultType } from '../faults/registry.js';

type Def = {
  type: string;
  innerType?: Schema;
  in?: Schema;
  shape?: Record<string, Schema>;
  element?: Schema;
  valueType?: Schema;
  options?: Schema[];
  getter?: () => Schema;
};
type Schema = { _zod: { def: Def } };

/** Wrappers that do not change which keys an object takes. */
function unwrap(schema: Schema | undefined): Schema | undefined {
  let s = schema;
  for (let i = 0; s && i < 32; i++) {
    const def: Def = s._zod.def;
    if (def.innerType) s = def.innerType;
    else if (def.type === 'pipe' && def.in) s = def.in;
    else if (def.type === 'lazy' && def.getter) s = def.getter();
    else return s;
  }
  return s;
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** An experiment's `config` is checked by its fault type's schema, chosen by the sibling `type`. */
function faultConfigSchema(parent: unknown): Schema | undefined {
  if (!isRecord(parent) || typeof parent.type !== 'string') return undefined;
  const type = faultAliases[parent.type]?.type ?? parent.type;
  return isFaultType(type) ? (faultSchema(type) as unknown as Schema) : undefined;
}

function objectKeys(schema: Schema | undefined): string[] {
  const s = unwrap(schema);
  if (!s) return [];
  const def = s._zod.def;
  if (def.type === 'object' && def.shape) return Object.keys(def.shape);
  if (def.type === 'union' && def.options) return [...new Set(def.options.flatMap((o) => objectKeys(o)))];
  return [];
}

function child(schema: Schema, step: PropertyKey, parent: unknown): Schema | undefined {
  const def = schema._zod.def;
  if (def.type === 'object' && def.shape) {
    if (step === 'config') return faultConfigSchema(parent) ?? def.shape.config;
    return def.shape[String(step)];
  }
  if (def.type === 'array' && typeof step === 'number') return def.element;
  if (def.type === 'record') return def.valueType;
  if (def.type === 'union' && def.options) {
    return def.options.find((o) => objectKeys(o).includes(String(step)));
  }
  return undefined;
}

/** The keys the schema accepts at `path` in `data` (an object's keys), or none when unknown. */
export function knownKeys(root: z.ZodType, path: readonly PropertyKey[], data: unknown): string[] {
  let schema = root as unknown as Schema | undefined;
  let value = data;
  for (const step of path) {
    schema = unwrap(schema);
    if (!schema) return [];
    schema = child(schema, step, value);
    value =
      isRecord(value) || Array.isArray(value) ? (value as Record<PropertyKey, unknown>)[step] : undefined;
  }
  return objectKeys(schema);
}

/** Optimal string alignment distance: a swapped pair of letters (`forwrad`) counts once. */
function distance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        best = Math.min(best, d[i - 2]![j - 2]! + 1);
      d[i]![j] = best;
    }
  }
  return d[a.length]![b.length]!;
}

/** The candidate closest to `word` when it is close enough to be a typo, else undefined. */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  const lower = word.toLowerCase();
  // Up to a third of the word may be wrong (at most 3 edits): `forwad`, `lisen`, `max_msx`.
  const limit = Math.min(3, Math.max(1, Math.floor(word.length / 3)));
  let best: string | undefined;
  let bestDistance = limit + 1;
  for (const c of candidates) {
    const dist = distance(lower, c.toLowerCase());
    if (dist < bestDistance) {
      best = c;
      bestDistance = dist;
    }
  }
  return best;
}

/** `unknown key (did you mean "forward"?)`, or plain `unknown key`. */
export function unknownKeyMessage(
  root: z.ZodType,
  path: readonly PropertyKey[],
  key: string,
  data: unknown,
): string {
  const known = knownKeys(root, path, data).filter((k) => k !== key);
  const guess = closest(key, known);
  return guess ? `unknown key (did you mean "${guess}"?)` : 'unknown key';
}
