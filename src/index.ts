/**
 * The public API of the `faultgate` package: `startFaultgate` and the types a test suite needs.
 * Everything else under src/ is internal and may change between releases.
 */
export type {
  BlastRadius,
  BodyProblem,
  SessionAction,
  SessionSafety,
  SessionState,
  SessionTargeting,
  SessionView,
} from './chaos/control.js';
export type { ConfigProblem } from './config/load.js';
export { type Config, configSchema, type Experiment, experimentSchema } from './config/schema.js';
export { type ErrorCode, FaultgateError } from './errors.js';
export type { BoundAddress } from './faultgate.js';
export {
  type FaultgateHandle,
  FaultgateValidationError,
  type Sessions,
  type StartFaultgateOptions,
  startFaultgate,
} from './library.js';
export type {
  AgentRow,
  Finding,
  Report,
  ReportFormat,
  SloCheck,
  TimelineEvent,
  ToolRow,
} from './observe/report-model.js';
export { renderReport } from './observe/report/index.js';
export type { ConfigInput, ExperimentInput, LibraryConfig, SessionBody } from './public-types.js';
