import { z } from 'zod';
import { parseJson } from '../stream/buffered.js';
import { probability } from './kit/common.js';
import {
  cutText,
  type Json,
  type Leaf,
  type Mutator,
  type MutationEnv,
  type MutationResult,
  mutateLeaves,
  mutationEnv,
  otherString,
  setLeaf,
} from './kit/json-walk.js';
import { dataResponse, ResponseHistory, withCurrentRpcId } from './kit/response-history.js';
import type { Fault, Rng } from './types.js';
import { defineFault } from './define.js';

const hallucinationTypes = [
  'wrong_value',
  'fabricated_data',
  'contradiction',
  'confident_wrong',
  'partial_truth',
  'outdated',
  'nonexistent_reference',
] as const;

const hallucinationSchema = z.strictObject({
  types: z.array(z.enum(hallucinationTypes)).min(1).default(['wrong_value']),
  severity: probability.default(0.3),
});
type HallucinationConfig = z.infer<typeof hallucinationSchema>;
type LeafType = Exclude<(typeof hallucinationTypes)[number], 'outdated'>;

const sign = (rng: Rng) => (rng.next() < 0.5 ? -1 : 1);

/** A different number of the same kind: integers move by up to half their size, floats by 10-50%. */
function wrongNumber(v: number, rng: Rng): number {
  if (Number.isInteger(v)) {
    const d = rng.int(1, Math.max(1, Math.round(Math.abs(v) * 0.5)));
    const out = v >= 0 && v - d < 0 ? v + d : v + d * sign(rng);
    return Number.isSafeInteger(out) ? out : v / 2;
  }
  const decimals = Math.min(6, (String(v).split('.')[1] ?? '').length);
  const out = Number((v * (1 + rng.between(0.1, 0.5) * sign(rng))).toFixed(decimals));
  return out === v || !Number.isFinite(out) ? Number((v + 10 ** -decimals).toFixed(decimals)) : out;
}

const VOCABULARY = ['Lyon', 'Oslo', 'pending', 'Acme Corp', 'John Smith', 'blue', 'version 2', 'monthly'];

/** Another string of the document; else the same string with a number changed; else a stock word. */
function wrongString(s: string, env: MutationEnv): string {
  const other = otherString(env, s);
  if (other !== undefined) return other;
  if (/\d/.test(s)) return s.replace(/\d+(\.\d+)?/, (m) => String(wrongNumber(Number(m), env.rng)));
  return env.rng.pick(VOCABULARY.filter((w) => w !== s));
}

function wrongValue(v: Json, env: MutationEnv): Json {
  if (typeof v === 'boolean') return !v;
  if (typeof v === 'number') return wrongNumber(v, env.rng);
  if (typeof v === 'string') return wrongString(v, env);
  return v;
}

const PAIRS: [string, string][] = [
  ['yes', 'no'],
  ['true', 'false'],
  ['available', 'unavailable'],
  ['success', 'failure'],
  ['succeeded', 'failed'],
  ['enabled', 'disabled'],
  ['open', 'closed'],
  ['valid', 'invalid'],
  ['increase', 'decrease'],
  ['increased', 'decreased'],
  ['online', 'offline'],
  ['active', 'inactive'],
  ['allowed', 'denied'],
  ['above', 'below'],
  ['always', 'never'],
  ['in stock', 'out of stock'],
  ['is', 'is not'],
  ['are', 'are not'],
  ['can', 'cannot'],
];
const OPPOSITE = new Map(PAIRS.flatMap(([a, b]) => [[a, b] as const, [b, a] as const]));
// Longest first, so "is not" is negated back to "is" rather than to "is not not".
const OPPOSITE_RE = new RegExp(
  `\\b(${[...OPPOSITE.keys()].sort((a, b) => b.length - a.length).join('|')})\\b`,
  'i',
);

/** The first word with an opposite is replaced by it (case kept); else the text is negated. */
function contradict(s: string): string {
  const m = OPPOSITE_RE.exec(s);
  if (!m) return `not ${s}`;
  const word = m[1]!;
  let opposite = OPPOSITE.get(word.toLowerCase())!;
  if (word[0] !== word[0]!.toLowerCase()) opposite = opposite[0]!.toUpperCase() + opposite.slice(1);
  return s.slice(0, m.index) + opposite + s.slice(m.index + word.length);
}

const CONFIDENT = ['Definitely ', 'Confirmed: ', 'I am 100% certain: ', 'Verified: ', 'Without any doubt, '];

const FABRICATED: [string, (rng: Rng) => Json][] = [
  ['confidence', (r) => Number(r.between(0.9, 0.99).toFixed(2))],
  ['verified', () => true],
  ['source', (r) => r.pick(['internal knowledge base', 'official registry', 'partner feed'])],
  ['last_updated', (r) => `20${r.int(18, 23)}-0${r.int(1, 9)}-1${r.int(0, 9)}`],
  ['rating', (r) => Number(r.between(3.5, 5).toFixed(1))],
  ['region', (r) => r.pick(['eu-west', 'us-east', 'ap-south'])],
  ['related_id', (r) => `ref_${randomChars(r, 10, ALNUM)}`],
];

const ALNUM = 'abcdefghijklmnopqrstuvwxyz0123456789';
const HEX = '0123456789abcdef';
function randomChars(rng: Rng, n: number, alphabet: string): string {
  let out = '';
  for (let i = 0; i < n; i++) out += alphabet[rng.int(0, alphabet.length - 1)];
  return out;
}

const REF_KEY = /(^|[_-])(ids?|uuid|guid|ref|reference|url|uri|href|link|source|citation|doi|isbn)$/i;
/** camelCase only: `userId`, `docUrl` (case-sensitive, so "valid" or "paid" are not ids). */
const CAMEL_REF_KEY = /[a-z](Ids?|Url|Uri|Ref)$/;
const URL_RE = /^([a-z][\w+.-]*:\/\/[^/?#\s]+)([^?#\s]*)(.*)$/i;
const REF_VALUE = [
  URL_RE,
  /^[\da-f]{8}(-[\da-f]{4}){3}-[\da-f]{12}$/i,
  /^10\.\d{4,9}\/\S+$/,
  /^[a-z]+[_-][\w-]{6,}$/i,
];

const isReference = (leaf: Leaf): boolean =>
  (typeof leaf.value === 'string' && REF_VALUE.some((re) => re.test(leaf.value as string))) ||
  ((typeof leaf.value === 'string' || Number.isInteger(leaf.value)) &&
    (REF_KEY.test(leaf.name ?? '') || CAMEL_REF_KEY.test(leaf.name ?? '')));

/** Same shape, other characters: digits stay digits, hex stays hex, a `call_`/`10.1234/` prefix stays. */
function reshape(s: string, rng: Rng): string {
  const prefix = /^(10\.\d+\/|[a-z]+[_-])/i.exec(s)?.[0] ?? '';
  const rest = s.slice(prefix.length);
  // Hex only in one case: "Ab12cd34" is a mixed-case id, not hex.
  const hex = /^[\da-f-]+$/.test(rest) || /^[\dA-F-]+$/.test(rest);
  let out = prefix;
  for (const c of rest) {
    const digit = c >= '0' && c <= '9';
    if (hex && (digit || /[a-f]/i.test(c))) out += HEX[rng.int(0, 15)];
    else if (digit) out += String(rng.int(0, 9));
    else if (/[a-z]/.test(c)) out += ALNUM[rng.int(0, 25)];
    else if (/[A-Z]/.test(c)) out += ALNUM[rng.int(0, 25)]!.toUpperCase();
    else out += c;
  }
  if (hex && rest === rest.toUpperCase()) out = prefix + out.slice(prefix.length).toUpperCase();
  return out === s ? `${s}x` : out;
}

const slug = (rng: Rng) =>
  `${rng.pick(['legacy', 'annual', 'internal', 'v2'])}-${rng.pick(['report', 'notes', 'spec'])}-${rng.int(1000, 9999)}`;

const hosts = new WeakMap<readonly string[], string>();
/** The first URL origin among the document's strings (looked up once per document). */
function documentHost(strings: readonly string[]): string {
  let host = hosts.get(strings);
  if (host === undefined) {
    host = strings.map((x) => URL_RE.exec(x)?.[1]).find((h) => h) ?? 'https://doi.org';
    hosts.set(strings, host);
  }
  return host;
}

/** A plausible reference that does not exist: same host, made-up page; same id shape, other id. */
function fabricateReference(leaf: Leaf, env: MutationEnv): Json {
  const { rng } = env;
  const v = leaf.value;
  if (typeof v === 'number') {
    const digits = String(Math.abs(v)).length;
    const n = rng.int(10 ** (digits - 1), 10 ** digits - 1);
    return n === v ? n + 1 : n;
  }
  const s = v as string;
  const url = URL_RE.exec(s);
  if (url) {
    const segments = url[2]!.split('/');
    segments[Math.max(1, segments.length - (segments.at(-1) === '' ? 2 : 1))] = slug(rng);
    return url[1] + segments.join('/') + url[3];
  }
  if (isReference(leaf)) return reshape(s, rng);
  // Plain text: it gains a citation of a page that does not exist, on a host the document uses.
  const host = documentHost(env.strings());
  return `${s} [source: ${host}/${slug(rng)}]`;
}

const scalar = (leaf: Leaf) => leaf.value !== null;

const hallucinationMutators: Record<LeafType, Mutator> = {
  wrong_value: { applies: scalar, apply: (leaf, env) => setLeaf(leaf, wrongValue(leaf.value, env)) },
  fabricated_data: {
    applies: (leaf) => !leaf.root,
    apply(leaf, env) {
      if (Array.isArray(leaf.parent)) {
        const copy = leaf.value === null ? null : wrongValue(leaf.value, env);
        env.arrays.insertAfter(leaf.parent, leaf.key as number, copy);
        return;
      }
      const parent = leaf.parent;
      const free = FABRICATED.filter(([k]) => !Object.hasOwn(parent, k));
      const [key, make] = free.length > 0 ? env.rng.pick(free) : FABRICATED[0]!;
      parent[free.length > 0 ? key : `${key}_${Object.keys(parent).length}`] = make(env.rng);
    },
  },
  contradiction: {
    applies: scalar,
    apply(leaf) {
      const v = leaf.value;
      setLeaf(
        leaf,
        typeof v === 'boolean' ? !v : typeof v === 'number' ? (v === 0 ? 1 : -v) : contradict(v as string),
      );
    },
  },
  confident_wrong: {
    applies: scalar,
    apply(leaf, env) {
      const wrong = wrongValue(leaf.value, env);
      setLeaf(leaf, typeof wrong === 'string' ? env.rng.pick(CONFIDENT) + wrong : wrong);
    },
  },
  partial_truth: {
    applies: (leaf) =>
      (typeof leaf.value === 'string' && leaf.value.length >= 2) || (leaf.array?.items.length ?? 0) >= 2,
    apply(leaf, env) {
      const { rng } = env;
      const s = leaf.value;
      if (typeof s === 'string' && s.length >= 2) {
        const target = Math.max(1, Math.floor(s.length * rng.between(0.3, 0.7)));
        const space = s.lastIndexOf(' ', target);
        setLeaf(leaf, cutText(s, space > 0 ? space : target));
      } else {
        env.arrays.cut(leaf.array!.items, rng.int(1, leaf.array!.items.length - 1));
      }
    },
  },
  nonexistent_reference: {
    applies: (leaf) => typeof leaf.value === 'string' || isReference(leaf),
    apply: (leaf, env) => setLeaf(leaf, fabricateReference(leaf, env)),
  },
};

/**
 * Mutates a parsed JSON body in place. One type is drawn first: `outdated` replays `earlier`
 * (or, with none, falls back to `wrong_value`); any other means leaf-level mutation with the
 * configured leaf types, one drawn per touched leaf.
 */
export function hallucinate(
  root: Json,
  rng: Rng,
  config: HallucinationConfig,
  earlier?: Json,
): MutationResult {
  if (config.severity <= 0) return { root, touched: 0, replayed: false };
  const first = rng.pick(config.types);
  if (first === 'outdated' && earlier !== undefined) {
    return { root: withCurrentRpcId(earlier, root), touched: 0, replayed: true };
  }
  const types: LeafType[] =
    first === 'outdated' ? ['wrong_value'] : config.types.filter((t): t is LeafType => t !== 'outdated');
  const doc = { root };
  const touched = mutateLeaves(mutationEnv(rng, doc), config.severity, types, hallucinationMutators);
  return { root: doc.root, touched, replayed: false };
}

/** Mutates JSON response values; non-JSON bodies pass through, counted as skipped. */
function createHallucination(config: HallucinationConfig): Fault {
  const history = config.types.includes('outdated') ? new ResponseHistory() : undefined;
  const fault: Fault = {
    response: (ctx, head) =>
      dataResponse(ctx, head, history, (body, earlier) => {
        const json = parseJson(body) as Json | undefined;
        if (json === undefined) {
          ctx.skipped('response body is not JSON');
          return undefined;
        }
        const before = earlier && (parseJson(earlier) as Json | undefined);
        const out = hallucinate(json, ctx.rng, config, before);
        if (!out.replayed && out.touched === 0) {
          ctx.skipped('no value the configured types can change');
          return undefined;
        }
        return JSON.stringify(out.root);
      }),
  };
  // The request body is only observed, to key the history by method + path + body hash.
  if (history) fault.requestBody = (ctx, body) => history.observe(ctx, body);
  return fault;
}

export const hallucinationFault = defineFault({
  type: 'hallucination',
  schema: hallucinationSchema,
  create: createHallucination,
});
