import type { z } from 'zod';
import type { Fault } from './types.js';

/**
 * One fault type, whole: the name users write as `type`, the zod schema of its `config`, and
 * the factory of its runtime. The registry is a list of these; nothing else names a fault.
 */
export interface FaultDefinition<T extends string = string, S extends z.ZodType = z.ZodType> {
  readonly type: T;
  /** `z.strictObject` with defaults: validation, defaults and the admin API's JSON Schema. */
  readonly schema: S;
  /** Called once per experiment per config load (or session): the instance holds cross-request state. */
  readonly create: (config: z.output<S>) => Fault;
  /** Other names for this type (Pisama's experiment names) and the config defaults each implies. */
  readonly aliases?: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
}

/** Declares a fault type; `type` keeps its literal so the registry knows every name at compile time. */
export function defineFault<const T extends string, S extends z.ZodType>(
  definition: FaultDefinition<T, S>,
): FaultDefinition<T, S> {
  return Object.freeze(definition);
}
