import type {
  ChaosStatus,
  ControlPlane,
  ReloadAnswer,
  ControlResult,
  SessionAction,
  SessionSafety,
  SessionState,
  SessionView,
} from '../../src/chaos/control.js';
import { parseSessionBody } from '../../src/chaos/session-schema.js';
import type { ConfigProblem } from '../../src/config/load.js';

export const SAFETY_DEFAULTS: SessionSafety = {
  max_affected_requests: 1000,
  cascade_threshold: 20,
  auto_abort_on_cascade: true,
  max_blast_radius: 'single_tenant',
  max_active_faults: 100,
};

const MOVES: Record<SessionAction, { from: SessionState[]; to: SessionState }> = {
  start: { from: ['created'], to: 'running' },
  stop: { from: ['running'], to: 'stopped' },
  abort: { from: ['created', 'running'], to: 'aborted' },
};

const LIVE: SessionState[] = ['created', 'running'];

/**
 * An in-memory ControlPlane: the state machine of the contract and nothing else, so the HTTP
 * layer is tested without the engine. `reloadResult` is what the next reload answers.
 */
export class FakeControl implements ControlPlane {
  readonly sessions = new Map<string, SessionView>();
  level = 1;
  reloads = 0;
  reloadResult: Awaited<ReturnType<ControlPlane['reload']>> = { ok: true, value: { config_hash: 'abc123' } };
  private next = 0;
  private clock = 0;

  constructor() {
    this.sessions.set('default', this.view('default', 'default', 'running'));
  }

  private now(): string {
    return new Date(Date.UTC(2025, 0, 1, 0, 0, this.clock++)).toISOString();
  }

  private view(id: string, name: string, state: SessionState): SessionView {
    const at = this.now();
    return {
      id,
      name,
      state,
      abort_reason: null,
      affected_requests: 0,
      experiments: [],
      targeting: { agent_ids: ['*'], tool_names: ['*'], tenant_ids: ['*'], percentage: 1 },
      safety: { ...SAFETY_DEFAULTS },
      duration_s: null,
      created_at: at,
      started_at: state === 'running' ? at : null,
      ended_at: null,
    };
  }

  listSessions(): SessionView[] {
    return [...this.sessions.values()];
  }

  createSession(body: unknown): ControlResult<SessionView> {
    const parsed = parseSessionBody(body, SAFETY_DEFAULTS);
    if (!parsed.ok)
      return { ok: false, error: 'invalid', message: 'invalid session', problems: parsed.problems };
    const { value } = parsed;
    const clash = [...this.sessions.values()].some((s) => s.name === value.name && LIVE.includes(s.state));
    if (clash)
      return { ok: false, error: 'conflict', message: `a live session is already named "${value.name}"` };
    const id = `s${++this.next}`;
    const session = { ...this.view(id, value.name, 'created'), ...value };
    this.sessions.set(id, session);
    return { ok: true, value: session };
  }

  getSession(id: string): SessionView | undefined {
    return this.sessions.get(id);
  }

  deleteSession(id: string): ControlResult<SessionView> {
    const s = this.sessions.get(id);
    if (!s) return { ok: false, error: 'not_found', message: `no session "${id}"` };
    if (s.state === 'running') this.end(s, 'aborted', 'deleted');
    this.sessions.delete(id);
    return { ok: true, value: s };
  }

  transition(id: string, action: SessionAction): ControlResult<SessionView> {
    const s = this.sessions.get(id);
    if (!s) return { ok: false, error: 'not_found', message: `no session "${id}"` };
    const move = MOVES[action];
    if (!move.from.includes(s.state)) {
      return { ok: false, error: 'conflict', message: `cannot ${action} a session that is ${s.state}` };
    }
    if (move.to === 'running') {
      s.state = 'running';
      s.started_at = this.now();
    } else this.end(s, move.to, action === 'abort' ? 'manual' : null);
    return { ok: true, value: s };
  }

  private end(s: SessionView, state: SessionState, reason: string | null): void {
    s.state = state;
    s.abort_reason = reason;
    s.ended_at = this.now();
  }

  abortAll(reason: string): SessionView[] {
    const running = [...this.sessions.values()].filter((s) => s.state === 'running');
    for (const s of running) this.end(s, 'aborted', reason);
    this.abortedFor = reason;
    return running;
  }

  abortedFor: string | null = null;

  resume(): SessionView {
    this.abortedFor = null;
    const fresh = this.view('default', 'default', 'running');
    this.sessions.set('default', fresh);
    return fresh;
  }

  getLevel(): number {
    return this.level;
  }

  chaosStatus(): ChaosStatus {
    return {
      level: this.level,
      level_source: 'config',
      aborted: this.abortedFor !== null,
      abort_reason: this.abortedFor,
      aborted_at: null,
    };
  }

  setLevel(level: number): ControlResult<number> {
    this.level = level;
    return { ok: true, value: level };
  }

  async reload(): Promise<ControlResult<ReloadAnswer> & { problems?: ConfigProblem[] }> {
    this.reloads++;
    return this.reloadResult;
  }
}
