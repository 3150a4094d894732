export { FleetControl } from './control.js';
export { Fleet, type FleetDeps, RESYNC_MS, within } from './fleet.js';
export { fleetReport, OutcomeStream } from './outcomes.js';
