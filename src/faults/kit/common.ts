import { z } from 'zod';
import { dialects } from '../../types.js';

/** Error-body dialects: how an LLM or tool API words its failures. */
export const dialectSchema = z.enum(dialects);

export const probability = z.number().min(0).max(1);
export const nonNegInt = z.int().min(0);
export const posInt = z.int().min(1);
/** A status faultgate may answer with: 1xx would promise a protocol switch or another head. */
export const httpStatus = z.int().min(200).max(599);
/** Header names are HTTP tokens and values printable Latin-1: anything else Node cannot send. */
export const headerMap = z.record(
  z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, 'a header name is an HTTP token'),
  z.string().regex(/^[\t\x20-\x7e\x80-\xff]*$/, 'a header value is printable Latin-1'),
);
/** A number, or an inclusive [min, max] range to draw from. */
export const numberOrRange = z.union([
  z.number().min(0),
  z
    .tuple([z.number().min(0), z.number().min(0)])
    .refine(([a, b]) => a <= b, { message: 'range must be [min, max] with min <= max' }),
]);
