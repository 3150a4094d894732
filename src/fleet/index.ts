export { FleetControl } from './control.js';
export type { FleetDeps } from './deps.js';
export { Fleet, RESYNC_MS, within } from './fleet.js';
export { fleetReport, OutcomeStream } from './outcomes.js';
