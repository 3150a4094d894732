export { FleetControl } from './control.js';
export { Fleet, type FleetDeps, RESYNC_MS } from './fleet.js';
export { fleetReport, OutcomeStream } from './outcomes.js';
