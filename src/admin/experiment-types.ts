/**
 * `GET /api/v1/chaos/experiment-types`: every fault type with the JSON Schema of its `config`
 * (generated from the zod schema, so it cannot drift), an example experiment that validates,
 * and the Pisama aliases. Built once: the registry does not change at run time.
 */
import { z } from 'zod';
import { type FaultType, faultAliases, faultSchema, faultTypes } from '../faults/registry.js';

/** One config per type; `satisfies` makes a new fault type without an example a compile error. */
const exampleConfigs = {
  latency: { pattern: 'uniform', min_ms: 500, max_ms: 2000 },
  error: { status: [502, 503] },
  rate_limit: { status: 429, retry_after_s: [1, 5] },
  auth: { status: 401 },
  // biome-ignore lint/suspicious/noThenProperty: `then` is the SPEC's key name; this object is never awaited.
  timeout: { after_ms: 5000, then: 504 },
  reset: { phase: 'mid_body', after_bytes: 512 },
  close: {},
  truncate: { fraction: 0.5, mode: 'abort' },
  malformed: { kind: 'json_syntax' },
  empty: { status: 200 },
  bandwidth: { bytes_per_s: 1024 },
  sse: { action: 'truncate', after_events: 3 },
  hallucination: { types: ['wrong_value', 'fabricated_data'], severity: 0.3 },
  context_corruption: { types: ['truncate', 'noise'], severity: 0.3 },
  context_truncation: { fraction: 0.5 },
  uncooperative: { mode: 'refuse' },
  budget: { tokens: 10_000, window_s: 3600, per: 'agent' },
  replace: { status: 200, body: { results: [] } },
  patch: { patch: { data: null } },
} satisfies Record<FaultType, Record<string, unknown>>;

export interface ExperimentTypeInfo {
  type: FaultType;
  /** Pisama names that resolve to this type, with the config defaults they imply. */
  aliases: { name: string; defaults: Record<string, unknown> }[];
  /** JSON Schema (draft 2020-12) of what a user may write under `config`. */
  config_schema: Record<string, unknown>;
  /** A whole experiment in the SPEC section 2 shape, usable as is in a session body. */
  example: { name: string; type: FaultType; probability: number; config: Record<string, unknown> };
}

/** zod writes integer bounds as Number.MAX_SAFE_INTEGER; they say nothing to a reader. */
function dropSafeIntegerBounds(node: unknown): void {
  if (typeof node !== 'object' || node === null) return;
  const rec = node as Record<string, unknown>;
  if (rec.maximum === Number.MAX_SAFE_INTEGER) delete rec.maximum;
  if (rec.minimum === Number.MIN_SAFE_INTEGER) delete rec.minimum;
  for (const v of Object.values(rec)) dropSafeIntegerBounds(v);
}

/**
 * The input side: what users write, before defaults and transforms (timeout's `then` accepts
 * 504 or "504" and is normalised to 504 afterwards; the input union is what matters here). Any
 * other transform or refinement JSON Schema cannot express becomes `{}` rather than an error.
 */
function configSchema(type: FaultType): Record<string, unknown> {
  const schema = z.toJSONSchema(faultSchema(type), { io: 'input', unrepresentable: 'any' });
  dropSafeIntegerBounds(schema);
  return schema as Record<string, unknown>;
}

let cached: { types: ExperimentTypeInfo[] } | undefined;

export function experimentTypes(): { types: ExperimentTypeInfo[] } {
  cached ??= {
    types: faultTypes.map((type) => ({
      type,
      aliases: Object.entries(faultAliases)
        .filter(([, a]) => a.type === type)
        .map(([name, a]) => ({ name, defaults: a.defaults })),
      config_schema: configSchema(type),
      example: {
        name: `example-${type.replaceAll('_', '-')}`,
        type,
        probability: 0.1,
        config: exampleConfigs[type],
      },
    })),
  };
  return cached;
}
