import { formatPath } from '../config/load.js';
import { experimentSchema } from '../config/schema.js';
import { CompiledExperiment } from './experiment.js';
import type { SeededRng } from './rng.js';

function scalar(text: string): string | number | boolean {
  if (text === 'true') return true;
  if (text === 'false') return false;
  if (text !== '' && Number.isFinite(Number(text))) return Number(text);
  return text;
}

/**
 * A parsed `x-faultgate-fault`: the fault, and when it fires. `times` caps the injections per
 * retry key (times=1: the first request fails, its retry passes); `probability` fires on that
 * share of the requests carrying the header (Envoy's fault headers carry a percentage too).
 */
export type OverrideResult =
  | { ok: true; experiment: CompiledExperiment; times?: number; probability?: number }
  | { ok: false; message: string };

/** What identifies "the same request again" (SPEC section 5's retry): agent, tool, method, path, body. */
export interface OverrideRequest {
  agent: string;
  tool: string;
  method: string;
  path: string;
  /** The body's identity as far as it is known without reading it (e.g. its content-length). */
  bodyKey: string;
}

const MAX_CACHED = 256;
/** Retry keys remembered for `times=`; beyond it the least recently used are forgotten first. */
export const MAX_TIMES_KEYS = 10_000;

interface Fired {
  count: number;
  last: number;
}

/**
 * `x-faultgate-fault: <type>;<key>=<value>;...` (lists comma-separated), validated with the
 * type's own schema. Each engine keeps its own cache per header value (a test suite repeats
 * the same few), so a cached fault's state (a bucket, a history) is never shared between
 * instances; it lives as long as the cache entry.
 */
export class OverrideCache {
  private readonly cache = new Map<string, OverrideResult>();
  /** Injections per (header, retry key) for `times=`, in least-recently-used order. */
  private readonly fired = new Map<string, Fired>();

  constructor(private readonly now: () => number = Date.now) {}

  get(header: string): OverrideResult {
    const hit = this.cache.get(header);
    if (hit) return hit;
    const result = parse(header);
    if (this.cache.size >= MAX_CACHED) this.cache.clear();
    this.cache.set(header, result);
    return result;
  }

  /**
   * Whether a valid override fires for this request. `probability` draws from the request's
   * seeded stream (same seed, same sequence: same decisions). `times` counts injections per
   * header value and retry key; a key quiet for longer than `windowMs` (the recovery window)
   * starts again, as a request after the window is no longer a retry.
   */
  fires(
    header: string,
    parsed: Extract<OverrideResult, { ok: true }>,
    req: OverrideRequest,
    rng: SeededRng,
    windowMs: number,
  ): boolean {
    if (parsed.probability !== undefined && !(rng.next() < parsed.probability)) return false;
    if (parsed.times === undefined) return true;
    const key = `${header}\n${req.agent}\n${req.tool}\n${req.method}\n${req.path}\n${req.bodyKey}`;
    const now = this.now();
    let seen = this.fired.get(key);
    if (seen && now - seen.last > windowMs) seen = undefined;
    this.fired.delete(key); // re-inserted below: the Map's order is recency
    const count = seen?.count ?? 0;
    if (count >= parsed.times) {
      this.fired.set(key, { count, last: now });
      return false;
    }
    if (this.fired.size >= MAX_TIMES_KEYS) this.fired.delete(this.fired.keys().next().value!);
    this.fired.set(key, { count: count + 1, last: now });
    return true;
  }
}

/** `times` and `probability` say when the override fires; every other key is the fault's config. */
function firing(config: Record<string, unknown>): { times?: number; probability?: number } | string {
  const out: { times?: number; probability?: number } = {};
  if ('times' in config) {
    const t = config.times;
    if (typeof t !== 'number' || !Number.isSafeInteger(t) || t < 1)
      return `times: expected a whole number of at least 1, got "${String(t)}"`;
    out.times = t;
    delete config.times;
  }
  if ('probability' in config) {
    const p = config.probability;
    if (typeof p !== 'number' || !(p >= 0 && p <= 1))
      return `probability: expected a fraction from 0 to 1, got "${String(p)}"`;
    out.probability = p;
    delete config.probability;
  }
  return out;
}

function parse(header: string): OverrideResult {
  const [type, ...pairs] = header.split(';').map((s) => s.trim());
  if (!type) return { ok: false, message: 'x-faultgate-fault needs a fault type, e.g. "error;status=503"' };
  const config: Record<string, unknown> = Object.create(null);
  for (const pair of pairs) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    if (eq <= 0) return { ok: false, message: `"${pair}" is not key=value` };
    if (!/^[a-z_]+$/.test(pair.slice(0, eq)))
      return { ok: false, message: `"${pair.slice(0, eq)}" is not a config key` };
    const value = pair.slice(eq + 1);
    config[pair.slice(0, eq)] = value.includes(',') ? value.split(',').map(scalar) : scalar(value);
  }
  const when = firing(config);
  if (typeof when === 'string') return { ok: false, message: when };
  let parsed = experimentSchema.safeParse({ name: 'override', type, config, probability: 1 });
  if (!parsed.success) {
    // A single value where the schema wants a list (`types=wrong_value`): wrap it and try again.
    let retry = false;
    for (const issue of parsed.error.issues) {
      const key = issue.path[1];
      if (
        issue.path[0] === 'config' &&
        typeof key === 'string' &&
        issue.code === 'invalid_type' &&
        issue.expected === 'array'
      ) {
        config[key] = [config[key]];
        retry = true;
      }
    }
    if (retry) parsed = experimentSchema.safeParse({ name: 'override', type, config, probability: 1 });
  }
  if (!parsed.success) {
    return {
      ok: false,
      message: parsed.error.issues.map((i) => `${formatPath(i.path)}: ${i.message}`).join('; '),
    };
  }
  return { ok: true, experiment: new CompiledExperiment(parsed.data), ...when };
}
