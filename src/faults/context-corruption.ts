import { z } from 'zod';
import { parseJson } from '../stream/buffered.js';
import { probability } from './kit/common.js';
import {
  cutText,
  type Json,
  type JsonDoc,
  type Leaf,
  leavesOf,
  type Mutator,
  type MutationEnv,
  type MutationResult,
  mutateLeaves,
  mutationEnv,
  setLeaf,
  shuffle,
} from './kit/json-walk.js';
import { dataResponse, ResponseHistory, withCurrentRpcId } from './kit/response-history.js';
import type { Fault, Rng } from './types.js';
import { defineFault } from './define.js';

const contextCorruptionTypes = [
  'truncate',
  'reorder',
  'duplicate',
  'drop',
  'noise',
  'encoding',
  'stale',
  'overflow',
] as const;

const contextCorruptionSchema = z.strictObject({
  types: z.array(z.enum(contextCorruptionTypes)).min(1).default(['truncate']),
  severity: probability.default(0.3),
});
type ContextCorruptionConfig = z.infer<typeof contextCorruptionSchema>;
type CorruptionType = (typeof contextCorruptionTypes)[number];
type LeafType = Exclude<CorruptionType, 'stale' | 'overflow'>;

/** What `overflow` adds: enough to push a tool result past a typical context window. */
export const OVERFLOW_BYTES = 256 * 1024;

const NOISE = ['<unk>', '##', '\uFFFD', 'NaN', 'lorem', '0x7f', '[[', 'null', '%%', 'asdf'];
/** Windows-1252 for 0x80-0x9f: what most software shows when it reads UTF-8 as "latin1". */
const CP1252 =
  '\u20ac\u0081\u201a\u0192\u201e\u2026\u2020\u2021\u02c6\u2030\u0160\u2039\u0152\u008d\u017d\u008f' +
  '\u0090\u2018\u2019\u201c\u201d\u2022\u2013\u2014\u02dc\u2122\u0161\u203a\u0153\u009d\u017e\u0178';

/**
 * Mojibake: the UTF-8 bytes read as latin1 (Windows-1252). Plain ASCII survives that unchanged,
 * so its quotes and dashes are first made typographic, and text with none gains a BOM ("ï»¿").
 */
export function mojibake(s: string): string {
  let src = s;
  if (!/[\u0080-\uffff]/.test(src)) {
    src = src.replace(/'/g, '\u2019').replace(/"/g, '\u201c').replace(/ - /g, ' \u2013 ');
    if (src === s) src = `\uFEFF${s}`;
  }
  return Buffer.from(src, 'utf8')
    .toString('latin1')
    .replace(/[\u0080-\u009f]/g, (c) => CP1252[c.charCodeAt(0) - 0x80]!);
}

const words = (s: string) => s.split(' ');
const distinctWords = (s: string) => new Set(words(s)).size >= 2;

/** When both the leaf's string and its enclosing array qualify, one is drawn. */
function onArray(env: MutationEnv, arrayOk: boolean, stringOk: boolean): boolean {
  return arrayOk && (!stringOk || env.rng.next() < 0.5);
}

const isString = (leaf: Leaf): leaf is Leaf & { value: string } => typeof leaf.value === 'string';
const nonEmpty = (leaf: Leaf) => isString(leaf) && leaf.value.length > 0;

const corruptionMutators: Record<LeafType, Mutator> = {
  truncate: {
    applies: nonEmpty,
    apply(leaf, env) {
      const s = leaf.value as string;
      setLeaf(leaf, cutText(s, Math.min(s.length - 1, Math.floor(s.length * env.rng.between(0.1, 0.9)))));
      // A text body is cut, not just one of its lines: everything after the cut is gone.
      if (env.text) env.arrays.cut(leaf.parent as Json[], (leaf.key as number) + 1);
    },
  },
  reorder: {
    applies: (leaf, env) =>
      (leaf.array !== undefined && env.arrays.hasDistinct(leaf.array.items)) ||
      (isString(leaf) && distinctWords(leaf.value)),
    apply(leaf, env) {
      const items = leaf.array?.items;
      const stringOk = isString(leaf) && distinctWords(leaf.value);
      // An array is shuffled once per pass; another leaf of it shuffles its own words if it can.
      const arrayOk =
        items !== undefined && env.arrays.hasDistinct(items) && !(stringOk && env.arrays.shuffled(items));
      if (onArray(env, arrayOk, stringOk)) {
        env.arrays.shuffle(items!);
      } else {
        setLeaf(leaf, shuffle(env.rng, words(leaf.value as string)).join(' '));
      }
    },
  },
  duplicate: {
    applies: (leaf) => leaf.array !== undefined || nonEmpty(leaf),
    apply(leaf, env) {
      if (onArray(env, leaf.array !== undefined, nonEmpty(leaf))) {
        const { items, index, item } = leaf.array!;
        env.arrays.insertAfter(items, index, structuredClone(item));
      } else {
        const s = leaf.value as string;
        setLeaf(leaf, `${s}${s.includes('\n') ? '\n' : ' '}${s}`);
      }
    },
  },
  drop: {
    applies: (leaf) => !leaf.root,
    apply(leaf, env) {
      const lines = leaf.parent as Json[];
      if (env.text && lines.length === 1 && isString(leaf) && words(leaf.value).length >= 2) {
        const w = words(leaf.value);
        w.splice(env.rng.int(0, w.length - 1), 1);
        setLeaf(leaf, w.join(' '));
        return;
      }
      const { array } = leaf;
      // A key of an object inside an array, or that whole array item.
      if (array && array.items !== leaf.parent && env.rng.next() < 0.5)
        env.arrays.remove(array.items, array.index);
      else if (Array.isArray(leaf.parent)) env.arrays.remove(leaf.parent, leaf.key as number);
      else delete leaf.parent[leaf.key as string];
    },
  },
  noise: {
    applies: isString,
    apply(leaf, env) {
      const w = words(leaf.value as string);
      for (let k = env.rng.int(1, 3); k > 0; k--) w.splice(env.rng.int(0, w.length), 0, env.rng.pick(NOISE));
      setLeaf(leaf, w.join(' '));
    },
  },
  encoding: { applies: nonEmpty, apply: (leaf) => setLeaf(leaf, mojibake(leaf.value as string)) },
};

/** About 1 KiB of log-like filler drawn from the rng, repeated to `OVERFLOW_BYTES`. */
export function padding(rng: Rng): string {
  const vocabulary = ['DEBUG', 'trace', 'retry', 'cache', 'miss', 'shard', 'ok', 'latency', 'ms', 'worker'];
  let block = '';
  for (let line = 0; block.length < 1024; line++) {
    const parts: string[] = [];
    for (let i = 0; i < 12; i++) parts.push(rng.pick(vocabulary));
    block += `[${line}] ${parts.join(' ')}\n`;
  }
  return block.repeat(Math.ceil(OVERFLOW_BYTES / block.length)).slice(0, OVERFLOW_BYTES);
}

/** The longest string of the document grows by the padding; with no string, a padding value is added. */
function overflow(doc: JsonDoc, rng: Rng): void {
  const pad = padding(rng);
  let longest: Leaf | undefined;
  for (const leaf of leavesOf(doc)) {
    if (isString(leaf) && (!longest || leaf.value.length > (longest.value as string).length)) longest = leaf;
  }
  const root = doc.root;
  if (longest) setLeaf(longest, `${longest.value}\n${pad}`);
  else if (Array.isArray(root)) root.push(pad);
  else if (root !== null && typeof root === 'object')
    root[Object.hasOwn(root, 'raw_output') ? 'raw_output_2' : 'raw_output'] = pad;
  else doc.root = [root, pad];
}

type Plan = 'stale' | 'overflow' | LeafType[];

/** One type is drawn first: `stale` (replay; with no earlier response, `truncate`), `overflow`, or leaf level. */
function plan(rng: Rng, config: ContextCorruptionConfig, canReplay: boolean): Plan {
  const first = rng.pick(config.types);
  if (first === 'stale') return canReplay ? 'stale' : ['truncate'];
  if (first === 'overflow') return 'overflow';
  return config.types.filter((t): t is LeafType => t !== 'stale' && t !== 'overflow');
}

function corruptDoc(
  doc: JsonDoc,
  rng: Rng,
  config: ContextCorruptionConfig,
  steps: Plan,
  text: boolean,
): number {
  if (steps === 'overflow') {
    overflow(doc, rng);
    return 1;
  }
  return mutateLeaves(mutationEnv(rng, doc, text), config.severity, steps as LeafType[], corruptionMutators);
}

/** Corrupts a parsed JSON body in place (`severity` = share of leaves touched). */
export function corruptJson(
  root: Json,
  rng: Rng,
  config: ContextCorruptionConfig,
  earlier?: Json,
): MutationResult {
  if (config.severity <= 0) return { root, touched: 0, replayed: false };
  const steps = plan(rng, config, earlier !== undefined);
  if (steps === 'stale') return { root: withCurrentRpcId(earlier!, root), touched: 0, replayed: true };
  const doc = { root };
  const touched = corruptDoc(doc, rng, config, steps, false);
  return { root: doc.root, touched, replayed: false };
}

/** A text body: its lines are the leaves, so the same types cut, shuffle, repeat or drop lines. */
export function corruptText(
  text: string,
  rng: Rng,
  config: ContextCorruptionConfig,
  earlier?: string,
): { text: string; touched: number; replayed: boolean } {
  if (config.severity <= 0) return { text, touched: 0, replayed: false };
  const steps = plan(rng, config, earlier !== undefined);
  if (steps === 'stale') return { text: earlier!, touched: 0, replayed: true };
  const doc: JsonDoc = { root: text.split('\n') };
  const touched = corruptDoc(doc, rng, config, steps, true);
  return { text: (doc.root as string[]).join('\n'), touched, replayed: false };
}

const utf8 = new TextDecoder('utf-8', { fatal: true });
function asText(body: Buffer): string | undefined {
  try {
    return utf8.decode(body);
  } catch {
    return undefined;
  }
}

/** Corrupts JSON or text tool output on its way into the agent's context. */
function createContextCorruption(config: ContextCorruptionConfig): Fault {
  const history = config.types.includes('stale') ? new ResponseHistory() : undefined;
  const fault: Fault = {
    response: (ctx, head) =>
      dataResponse(ctx, head, history, (body, earlier) => {
        const json = parseJson(body) as Json | undefined;
        const text = json === undefined ? asText(body) : undefined;
        if (json === undefined && !text) {
          ctx.skipped('response body is not JSON or text');
          return undefined;
        }
        const out =
          json !== undefined
            ? corruptJson(json, ctx.rng, config, earlier && (parseJson(earlier) as Json | undefined))
            : corruptText(text!, ctx.rng, config, earlier && asText(earlier));
        if (!out.replayed && out.touched === 0) {
          ctx.skipped('no value the configured types can change');
          return undefined;
        }
        return 'text' in out ? out.text : JSON.stringify(out.root);
      }),
  };
  // The request body is only observed, to key the history by method + path + body hash.
  if (history) fault.requestBody = (ctx, body) => history.observe(ctx, body);
  return fault;
}

export const contextCorruptionFault = defineFault({
  type: 'context_corruption',
  schema: contextCorruptionSchema,
  create: createContextCorruption,
});
