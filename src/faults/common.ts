import { z } from 'zod';

/** Error-body dialects: how an LLM or tool API words its failures. */
export const dialectSchema = z.enum(['openai', 'anthropic', 'gemini', 'mcp', 'json', 'text']);
export type Dialect = z.infer<typeof dialectSchema>;

export const probability = z.number().min(0).max(1);
export const nonNegInt = z.int().min(0);
export const posInt = z.int().min(1);
export const httpStatus = z.int().min(100).max(599);
export const headerMap = z.record(z.string().min(1), z.string());
/** A number, or an inclusive [min, max] range to draw from. */
export const numberOrRange = z.union([
  z.number().min(0),
  z
    .tuple([z.number().min(0), z.number().min(0)])
    .refine(([a, b]) => a <= b, { message: 'range must be [min, max] with min <= max' }),
]);
