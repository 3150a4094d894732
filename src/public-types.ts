/**
 * The library's public types, inferred from the zod schemas that validate them, so the types
 * and the validation cannot drift apart. Re-exported from src/index.ts only.
 */
import type { z } from 'zod';
import type { SessionSafety, SessionTargeting } from './chaos/control.js';
import type { configSchema, experimentSchema } from './config/schema.js';

/** A config as written (SPEC section 2): defaults may be omitted. */
export type ConfigInput = z.input<typeof configSchema>;
/** One experiment as written (section 2): `type`, `config`, `probability`, `target`, `schedule`. */
export type ExperimentInput = z.input<typeof experimentSchema>;
type ListenerInput = ConfigInput['listeners'][number];

/**
 * A config object for `startFaultgate`: `version` and `listeners` may be left out, and so may
 * every `listen` address (the library binds 127.0.0.1:0).
 */
export type LibraryConfig = Omit<ConfigInput, 'version' | 'listeners'> & {
  version?: 1;
  listeners?: (Omit<ListenerInput, 'listen'> & { listen?: string })[];
};

/** The body of a new chaos session (SPEC section 7). */
export interface SessionBody {
  name: string;
  experiments: ExperimentInput[];
  targeting?: Partial<SessionTargeting>;
  safety?: Partial<SessionSafety>;
  /** The session completes by itself after this long; null or absent: runs until stopped. */
  duration_s?: number | null;
}
