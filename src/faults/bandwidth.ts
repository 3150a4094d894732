import { z } from 'zod';
import { posInt } from './common.js';

export const bandwidthSchema = z.strictObject({ bytes_per_s: posInt });
export type BandwidthConfig = z.infer<typeof bandwidthSchema>;
