import { z } from 'zod';
import { httpStatus } from './common.js';

export const emptySchema = z.strictObject({ status: httpStatus.default(200) });
export type EmptyConfig = z.infer<typeof emptySchema>;
