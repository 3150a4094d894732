import type { Rng } from '../types.js';

export type Scalar = string | number | boolean | null;
export type Json = Scalar | Json[] | JsonObject;
export interface JsonObject {
  [key: string]: Json;
}
export type Container = Json[] | JsonObject;

/**
 * A parsed document in a box: the root sits in `root`, so a scalar document is a leaf with a
 * parent like any other and every mutation is `parent[key] = value`.
 */
export interface JsonDoc {
  root: Json;
}

/** A scalar value in a document and where it sits. */
export interface Leaf {
  value: Scalar;
  /** The nearest object key above the value (`id` for `items[3].id`, `ids` for `ids[0]`). */
  name: string | undefined;
  /** The document is this scalar. */
  root: boolean;
  /** The container holding the value (the JsonDoc box for a scalar document). */
  parent: Container;
  key: string | number;
  /** The innermost array on the path and the item of it that holds this leaf. */
  array: { items: Json[]; index: number; item: Json } | undefined;
}

export const isContainer = (v: Json): v is Container => typeof v === 'object' && v !== null;

/** Every scalar of the document, in document order (depth first). */
export function leavesOf(doc: JsonDoc): Leaf[] {
  const out: Leaf[] = [];
  // No path arrays per leaf: a 10 MiB body has hundreds of thousands of leaves.
  const visit = (parent: Container, key: string | number, name: string | undefined, array: Leaf['array']) => {
    const value = (parent as Record<string | number, Json>)[key]!;
    if (!isContainer(value)) {
      out.push({ value, name, root: parent === (doc as unknown), parent, key, array });
    } else if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) {
        visit(value, i, name, { items: value, index: i, item: value[i]! });
      }
    } else {
      for (const k of Object.keys(value)) visit(value, k, k, array);
    }
  };
  visit(doc as unknown as JsonObject, 'root', undefined, undefined);
  return out;
}

/** Writes `value` into the leaf's slot. */
export function setLeaf(leaf: Leaf, value: Json): void {
  (leaf.parent as Record<string | number, Json>)[leaf.key] = value;
}

interface PendingEdits {
  remove: Set<number>;
  insert: Map<number, Json[]>;
  /** Items from this original index on are cut off. */
  cutAt: number;
  cut: boolean;
  shuffle: boolean;
}

/**
 * Structural edits of arrays, collected during a pass and carried out at its end: every leaf
 * keeps its index while the pass runs, and a big array is rebuilt once rather than once per edit.
 * Indexes are those of the array as the walk found it.
 */
export class ArrayEdits {
  private readonly pending = new Map<Json[], PendingEdits>();
  private readonly distinct = new WeakMap<Json[], boolean>();

  private of(items: Json[]): PendingEdits {
    let p = this.pending.get(items);
    if (!p) {
      p = { remove: new Set(), insert: new Map(), cutAt: items.length, cut: false, shuffle: false };
      this.pending.set(items, p);
    }
    return p;
  }

  remove(items: Json[], index: number): void {
    this.of(items).remove.add(index);
  }

  insertAfter(items: Json[], index: number, value: Json): void {
    const { insert } = this.of(items);
    insert.set(index, [...(insert.get(index) ?? []), value]);
  }

  /**
   * Keeps only the items before original index `keep`. An array is cut once per pass, by the
   * first request: passes run in reverse document order, so in a text body the last touched line.
   */
  cut(items: Json[], keep: number): void {
    const p = this.of(items);
    if (!p.cut) p.cutAt = keep;
    p.cut = true;
  }

  shuffle(items: Json[]): void {
    this.of(items).shuffle = true;
  }

  shuffled(items: Json[]): boolean {
    return this.pending.get(items)?.shuffle === true;
  }

  /** At least two distinct items, so a reorder is visible (remembered per array). */
  hasDistinct(items: Json[]): boolean {
    let d = this.distinct.get(items);
    if (d === undefined) {
      const first = JSON.stringify(items[0]);
      d = items.length >= 2 && items.some((x) => JSON.stringify(x) !== first);
      this.distinct.set(items, d);
    }
    return d;
  }

  apply(rng: Rng): void {
    for (const [items, p] of this.pending) {
      const out: Json[] = [];
      for (let i = 0; i < p.cutAt; i++) {
        if (!p.remove.has(i)) out.push(items[i]!);
        for (const v of p.insert.get(i) ?? []) out.push(v);
      }
      if (p.shuffle) shuffleJson(rng, out);
      items.length = 0;
      for (const v of out) items.push(v);
    }
    this.pending.clear();
  }
}

/** Shuffles JSON items so that the serialised order changes whenever the items are not all equal. */
function shuffleJson(rng: Rng, items: Json[]): void {
  const before = items.slice();
  shuffle(rng, items);
  const same = (x: Json, i: number) => x === before[i] || JSON.stringify(x) === JSON.stringify(before[i]);
  // Equal-looking items may have swapped; a rotation by one changes any non-constant sequence.
  if (items.every(same)) items.push(items.shift()!);
}

/** Everything a mutator may use besides the leaf itself. */
export interface MutationEnv {
  rng: Rng;
  doc: JsonDoc;
  /** Distinct string values of the document, for swaps (collected on first use). */
  strings(): readonly string[];
  /** The document is a text body split into lines (context_corruption on non-JSON output). */
  text: boolean;
  /** Array edits of this pass, carried out when it ends. */
  arrays: ArrayEdits;
  /** The document's leaves as the walk found them. */
  leaves: Leaf[];
}

/** One fault type at leaf level: whether it can change a leaf, and the change. */
export interface Mutator {
  applies(leaf: Leaf, env: MutationEnv): boolean;
  /** Changes the leaf or its object in place; array edits go through `env.arrays`. */
  apply(leaf: Leaf, env: MutationEnv): void;
}

export function mutationEnv(rng: Rng, doc: JsonDoc, text = false): MutationEnv {
  const leaves = leavesOf(doc);
  let strings: string[] | undefined;
  const collect = () => {
    const set = new Set<string>();
    for (const leaf of leaves) if (typeof leaf.value === 'string') set.add(leaf.value);
    return [...set];
  };
  return { rng, doc, strings: () => (strings ??= collect()), text, arrays: new ArrayEdits(), leaves };
}

/** Another distinct string of the document than `s`, if there is one (constant time). */
export function otherString(env: MutationEnv, s: string): string | undefined {
  const strings = env.strings();
  if (strings.length === 0 || (strings.length === 1 && strings[0] === s)) return undefined;
  const i = env.rng.int(0, strings.length - 1);
  return strings[i] !== s ? strings[i] : strings[(i + 1) % strings.length];
}

/** How many of `total` leaves a severity touches: round(severity x total), at least one if > 0. */
export function touchCount(severity: number, total: number): number {
  if (severity <= 0 || total === 0) return 0;
  return Math.min(total, Math.max(1, Math.round(severity * total)));
}

/**
 * Picks `touchCount(severity, leaves)` leaves at random, each with a type drawn among the
 * `types` that can change it (leaves no type can change are passed over), applies the changes
 * in reverse document order, then the collected array edits. Returns how many leaves were touched.
 */
export function mutateLeaves<T extends string>(
  env: MutationEnv,
  severity: number,
  types: readonly T[],
  mutators: Record<T, Mutator>,
): number {
  const { leaves } = env;
  const target = touchCount(severity, leaves.length);
  const order = new Uint32Array(leaves.length);
  for (let i = 0; i < order.length; i++) order[i] = i;
  const plan: { index: number; type: T }[] = [];
  const fits: T[] = [];
  // A lazy Fisher-Yates: only as many draws as leaves inspected.
  for (let i = 0; i < order.length && plan.length < target; i++) {
    const j = env.rng.int(i, order.length - 1);
    const index = order[j]!;
    order[j] = order[i]!;
    order[i] = index;
    fits.length = 0;
    for (const t of types) if (mutators[t].applies(leaves[index]!, env)) fits.push(t);
    if (fits.length > 0) plan.push({ index, type: env.rng.pick(fits) });
  }
  plan.sort((a, b) => b.index - a.index);
  for (const { index, type } of plan) mutators[type].apply(leaves[index]!, env);
  env.arrays.apply(env.rng);
  return plan.length;
}

/** What a body-mutating fault did to a parsed JSON body. */
export interface MutationResult {
  root: Json;
  /** Leaves touched (0 for a replay). */
  touched: number;
  /** The whole body was replaced by an earlier response (`outdated`/`stale`). */
  replayed: boolean;
}

/** Shuffles in place; an array of two or more distinct items always comes out in another order. */
export function shuffle<T>(rng: Rng, items: T[]): T[] {
  const before = items.slice();
  for (let i = items.length - 1; i > 0; i--) {
    const j = rng.int(0, i);
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  if (items.every((x, i) => x === before[i])) items.push(items.shift()!);
  return items;
}

/** The first `n` UTF-16 units of `s`, never splitting a surrogate pair. */
export function cutText(s: string, n: number): string {
  if (n >= s.length) return s;
  const code = s.charCodeAt(n - 1);
  return s.slice(0, code >= 0xd800 && code <= 0xdbff ? n - 1 : n);
}

// ---- path syntax: `messages[-1].content`, `params.arguments.*`, `$.items[*].title`, `a["b.c"]`

export type PathSegment = { key: string } | { index: number } | { any: true };

const SEGMENT = /^(?:\.?([^.[\]"*]+)|\.?\*|\[(-?\d+)\]|\[\*\]|\["((?:[^"\\]|\\.)*)"\])/;

/** Parses a value path; a leading `$` (JSONPath style) is allowed. Throws on a syntax error. */
export function parsePath(text: string): PathSegment[] {
  let rest = text.startsWith('$') ? text.slice(1) : text;
  const out: PathSegment[] = [];
  while (rest.length > 0) {
    const m = SEGMENT.exec(rest);
    if (!m || (out.length === 0 && rest.startsWith('.') && text[0] !== '$')) {
      throw new Error(`bad path "${text}" near "${rest}"`);
    }
    if (m[1] !== undefined) out.push({ key: m[1] });
    else if (m[2] !== undefined) out.push({ index: Number(m[2]) });
    else if (m[3] !== undefined) out.push({ key: JSON.parse(`"${m[3]}"`) as string });
    else out.push({ any: true });
    rest = rest.slice(m[0].length);
  }
  return out;
}

/** A place in a document: `parent[key]` holds `value`. */
export interface Slot {
  parent: Container;
  key: string | number;
  value: Json;
}

/** Every slot a parsed path selects (`[-1]` is the last item, `*` every key or item). */
export function selectPath(doc: JsonDoc, path: readonly PathSegment[]): Slot[] {
  let slots: Slot[] = [{ parent: doc as unknown as JsonObject, key: 'root', value: doc.root }];
  for (const seg of path) {
    const next: Slot[] = [];
    for (const { value } of slots) {
      if (!isContainer(value)) continue;
      if ('any' in seg) {
        const keys = Array.isArray(value) ? value.map((_, i) => i) : Object.keys(value);
        for (const k of keys) next.push({ parent: value, key: k, value: (value as JsonObject)[k]! });
      } else if ('index' in seg) {
        if (!Array.isArray(value)) continue;
        const i = seg.index < 0 ? value.length + seg.index : seg.index;
        if (i >= 0 && i < value.length) next.push({ parent: value, key: i, value: value[i]! });
      } else if (!Array.isArray(value) && Object.hasOwn(value, seg.key)) {
        next.push({ parent: value, key: seg.key, value: value[seg.key]! });
      }
    }
    slots = next;
  }
  return slots;
}
