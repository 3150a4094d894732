/**
 * Types shared by faults, stream transforms, the decision engine and the proxy. A leaf: it
 * imports nothing from `src/`, so `stream/` can use them without depending on `faults/`.
 */
import type { IncomingHttpHeaders } from 'node:http';

/** A per-request random stream; with a seed, the same request sequence draws the same numbers. */
export interface Rng {
  /** Uniform in [0, 1). */
  next(): number;
  /** Uniform in [min, max]. */
  between(min: number, max: number): number;
  /** Integer uniform in [min, max]. */
  int(min: number, max: number): number;
  pick<T>(items: readonly T[]): T;
}

/** Error-body dialects: how an LLM or tool API words its failures. */
export const dialects = ['openai', 'anthropic', 'gemini', 'mcp', 'json', 'text'] as const;
export type Dialect = (typeof dialects)[number];

/** The response head on its way to the client; response faults may change it in place. */
export interface ResponseHead {
  status: number;
  statusMessage: string | undefined;
  headers: IncomingHttpHeaders;
}
