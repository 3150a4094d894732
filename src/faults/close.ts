import { z } from 'zod';
import type { Fault } from './types.js';

export const closeSchema = z.strictObject({});
export type CloseConfig = z.infer<typeof closeSchema>;

/** Closes the connection (FIN) without sending a response. */
export function createClose(_config: CloseConfig): Fault {
  return { request: () => ({ kind: 'close' }) };
}
