import { FaultgateError } from '../errors.js';
import type { Fault } from './types.js';

/** A fault type whose runtime has not landed yet: building it fails loudly, never silently. */
export function pendingFault(type: string): Fault {
  throw new FaultgateError(
    'FAULTGATE_ERR_CONFIG',
    `fault type "${type}" is not implemented in this build yet`,
  );
}
