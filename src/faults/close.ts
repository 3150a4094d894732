import { z } from 'zod';
import type { Fault } from './types.js';
import { defineFault } from './define.js';

const closeSchema = z.strictObject({});
type CloseConfig = z.infer<typeof closeSchema>;

/** Closes the connection (FIN) without sending a response. */
function createClose(_config: CloseConfig): Fault {
  return { request: () => ({ kind: 'close' }) };
}

export const closeFault = defineFault({ type: 'close', schema: closeSchema, create: createClose });
