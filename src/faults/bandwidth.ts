import { z } from 'zod';
import { throttle } from '../stream/throttle.js';
import { posInt } from './kit/common.js';
import type { Fault } from './types.js';
import { defineFault } from './define.js';

const bandwidthSchema = z.strictObject({ bytes_per_s: posInt });
type BandwidthConfig = z.infer<typeof bandwidthSchema>;

/** Paces the response body to `bytes_per_s`; the bytes themselves are never changed. */
function createBandwidth(config: BandwidthConfig): Fault {
  return {
    response: (ctx) => ({
      stream: throttle(config.bytes_per_s, { now: () => ctx.now(), sleep: (ms) => ctx.sleep(ms) }),
      keepsLength: true,
    }),
  };
}

export const bandwidthFault = defineFault({
  type: 'bandwidth',
  schema: bandwidthSchema,
  create: createBandwidth,
});
