import { z } from 'zod';
import { httpStatus } from './common.js';
import type { Fault } from './types.js';

export const emptySchema = z.strictObject({ status: httpStatus.default(200) });
export type EmptyConfig = z.infer<typeof emptySchema>;

/** Answers `status` (200) with an empty body, without calling the upstream. */
export function createEmpty(config: EmptyConfig): Fault {
  return { request: () => ({ kind: 'respond', status: config.status, headers: {}, body: '' }) };
}
