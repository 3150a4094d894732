import { z } from 'zod';
import { pendingFault } from './pending.js';
import type { Fault } from './types.js';
import { posInt } from './common.js';

export const bandwidthSchema = z.strictObject({ bytes_per_s: posInt });
export type BandwidthConfig = z.infer<typeof bandwidthSchema>;

// TODO(issue 3): the runtime of this fault type; until then starting a config that uses it fails loudly.
export function createBandwidth(_config: BandwidthConfig): Fault {
  return pendingFault('bandwidth');
}
