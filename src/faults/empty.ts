import { z } from 'zod';
import { httpStatus } from './kit/common.js';
import type { Fault } from './types.js';
import { defineFault } from './define.js';

const emptySchema = z.strictObject({ status: httpStatus.default(200) });
type EmptyConfig = z.infer<typeof emptySchema>;

/** Answers `status` (200) with an empty body, without calling the upstream. */
function createEmpty(config: EmptyConfig): Fault {
  return { request: () => ({ kind: 'respond', status: config.status, headers: {}, body: '' }) };
}

export const emptyFault = defineFault({ type: 'empty', schema: emptySchema, create: createEmpty });
