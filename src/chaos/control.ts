import type { ConfigProblem } from '../config/load.js';

export type SessionState = 'created' | 'running' | 'stopped' | 'aborted' | 'completed';
export type SessionAction = 'start' | 'stop' | 'abort';
export type BlastRadius =
  | 'single_request'
  | 'single_agent'
  | 'single_trace'
  | 'single_tenant'
  | 'multi_tenant';

/** A session's targeting: narrows every experiment of the session (SPEC section 7). */
export interface SessionTargeting {
  agent_ids: string[];
  tool_names: string[];
  tenant_ids: string[];
  percentage: number;
}

export interface SessionSafety {
  max_affected_requests: number;
  cascade_threshold: number;
  auto_abort_on_cascade: boolean;
  max_blast_radius: BlastRadius;
  max_active_faults: number;
}

/** How the API answers a session (SPEC section 7). Times are ISO strings or null. */
export interface SessionView {
  id: string;
  name: string;
  state: SessionState;
  abort_reason: string | null;
  affected_requests: number;
  /** Experiments in the SPEC section 2 shape (aliases resolved, defaults filled). */
  experiments: unknown[];
  targeting: SessionTargeting;
  safety: SessionSafety;
  duration_s: number | null;
  created_at: string;
  started_at: string | null;
  ended_at: string | null;
  /** Fleet mode only: `fleet` when every instance shares the session, else `local`. */
  scope?: 'local' | 'fleet';
}

/** A problem in an API request body: `path` like `experiments[0].config.max_ms`. */
export interface BodyProblem {
  path: string;
  message: string;
}

export type ControlResult<T> =
  | { ok: true; value: T }
  | { ok: false; error: 'not_found' | 'conflict' | 'invalid'; message: string; problems?: BodyProblem[] };

/** What the admin API drives; implemented by the running instance. */
export interface ControlPlane {
  listSessions(): SessionView[];
  /** Validates a session body (SPEC shape or Pisama-style) and creates it in state `created`. */
  createSession(body: unknown): ControlResult<SessionView>;
  getSession(id: string): SessionView | undefined;
  /** Deletes a session; a running one is aborted first (reason `deleted`). */
  deleteSession(id: string): ControlResult<SessionView>;
  /** start: created -> running; stop: running -> stopped; abort: created|running -> aborted. Others: conflict. */
  transition(id: string, action: SessionAction): ControlResult<SessionView>;
  /** Aborts every running session, `default` included; chaos stays aborted across reloads. */
  abortAll(reason: string): SessionView[];
  /** Re-arms chaos after an abort: `default` is re-created from the current config and started. */
  resume(): SessionView;
  getLevel(): number;
  /** The level, where it comes from, and whether (and why) chaos is aborted. */
  chaosStatus(): ChaosStatus;
  setLevel(level: number): ControlResult<number>;
  /** Re-reads and validates the config file; swaps it in when valid. */
  reload(): Promise<ControlResult<ReloadAnswer> & { problems?: ConfigProblem[] }>;
}

/** `GET /api/v1/chaos/level`'s answer (and /readyz's `chaos` field). */
export interface ChaosStatus {
  level: number;
  /** `api` when a level set over the API overrides the file's `chaos.level`. */
  level_source: 'api' | 'config';
  aborted: boolean;
  abort_reason: string | null;
  aborted_at: string | null;
  /** Fleet mode only (SPEC section 10): the link to Redis; `degraded` while it is down. */
  fleet?: FleetStatus;
}

export interface FleetStatus {
  name: string;
  instance: string;
  state: 'connected' | 'degraded';
  /** Fleet sessions stop injecting once Redis was unreachable for `suspend_after_ms`. */
  suspended: boolean;
}

/** What a successful reload changed, kept, and left in force. */
export interface ReloadAnswer {
  config_hash: string;
  changes?: {
    experiments: { added: string[]; removed: string[]; changed: string[]; kept: string[] };
    listeners: { kept: number; bound: number; closed: number };
    /** Runtime state the reload did not reset: an API level, an abort. */
    overrides: { level?: number; aborted?: { reason: string; at: string } };
  };
}

/** A validated session body, whichever shape it came in. */
export interface SessionInput {
  name: string;
  experiments: import('../config/schema.js').Experiment[];
  targeting: SessionTargeting;
  safety: SessionSafety;
  duration_s: number | null;
}

/** Parses a session body; `defaults` are the config's `safety` values for keys the body omits. */
export type ParseSessionBody = (
  body: unknown,
  defaults: SessionSafety,
) => { ok: true; value: SessionInput } | { ok: false; problems: BodyProblem[] };
