import type { z } from 'zod';
import { authFault } from './auth.js';
import { bandwidthFault } from './bandwidth.js';
import { budgetFault } from './budget.js';
import { closeFault } from './close.js';
import { contextCorruptionFault } from './context-corruption.js';
import { contextTruncationFault } from './context-truncation.js';
import { emptyFault } from './empty.js';
import { errorFault } from './error.js';
import { hallucinationFault } from './hallucination.js';
import { latencyFault } from './latency.js';
import { malformedFault } from './malformed.js';
import { patchFault } from './patch.js';
import { rateLimitFault } from './rate-limit.js';
import { replaceFault } from './replace.js';
import { resetFault } from './reset.js';
import { sseFault } from './sse.js';
import { timeoutFault } from './timeout.js';
import { truncateFault } from './truncate.js';
import type { Fault } from './types.js';
import { uncooperativeFault } from './uncooperative.js';

/**
 * Every fault type, in catalogue order (docs/faults.md, the admin API's listing). Explicit
 * imports, no side effects: adding a fault means one file and one entry here
 * (docs/creating-faults.md). Everything below is derived from this list.
 */
export const faultDefinitions = [
  latencyFault,
  errorFault,
  rateLimitFault,
  authFault,
  timeoutFault,
  resetFault,
  closeFault,
  truncateFault,
  malformedFault,
  emptyFault,
  bandwidthFault,
  sseFault,
  hallucinationFault,
  contextCorruptionFault,
  contextTruncationFault,
  uncooperativeFault,
  budgetFault,
  replaceFault,
  patchFault,
] as const;

type Definition = (typeof faultDefinitions)[number];
export type FaultType = Definition['type'];
/** The parsed `config` of one fault type (defaults applied). */
export type FaultConfig<K extends FaultType> = z.output<Extract<Definition, { type: K }>['schema']>;

/** An index over the list for lookups by name; built once at import. */
const byType: ReadonlyMap<string, Definition> = new Map(faultDefinitions.map((d) => [d.type, d]));

export const faultTypes: readonly FaultType[] = faultDefinitions.map((d) => d.type);

/** Alias name -> canonical type and implied defaults. No prototype: `constructor` is not an alias. */
export const faultAliases: Readonly<Record<string, { type: FaultType; defaults: Record<string, unknown> }>> =
  Object.assign(
    Object.create(null),
    Object.fromEntries(
      faultDefinitions.flatMap((d) =>
        Object.entries(d.aliases ?? {}).map(([name, defaults]) => [name, { type: d.type, defaults }]),
      ),
    ),
  );

export function isFaultType(name: string): name is FaultType {
  return byType.has(name);
}

/** The zod schema of a fault type's `config`. */
export function faultSchema(type: FaultType): z.ZodType {
  return byType.get(type)!.schema;
}

/** Builds a fault's runtime from its already parsed `config`. */
export function createFault(type: FaultType, config: unknown): Fault {
  // The experiment's config was parsed by this same definition's schema (config/schema.ts).
  const create = byType.get(type)!.create as (config: unknown) => Fault;
  return create(config);
}
