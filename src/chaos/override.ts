import { experimentSchema } from '../config/schema.js';
import { formatPath } from '../config/load.js';
import { CompiledExperiment } from './experiment.js';

function scalar(text: string): string | number | boolean {
  if (text === 'true') return true;
  if (text === 'false') return false;
  if (text !== '' && Number.isFinite(Number(text))) return Number(text);
  return text;
}

export type OverrideResult = { ok: true; experiment: CompiledExperiment } | { ok: false; message: string };

const MAX_CACHED = 256;

/**
 * `x-faultgate-fault: <type>;<key>=<value>;...` (lists comma-separated), validated with the
 * type's own schema. Each engine keeps its own cache per header value (a test suite repeats
 * the same few), so a cached fault's state (a bucket, a history) is never shared between
 * instances; it lives as long as the cache entry.
 */
export class OverrideCache {
  private readonly cache = new Map<string, OverrideResult>();

  get(header: string): OverrideResult {
    const hit = this.cache.get(header);
    if (hit) return hit;
    const result = parse(header);
    if (this.cache.size >= MAX_CACHED) this.cache.clear();
    this.cache.set(header, result);
    return result;
  }
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
  return { ok: true, experiment: new CompiledExperiment(parsed.data) };
}
