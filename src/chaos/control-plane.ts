import type { Config } from '../config/schema.js';
import type { ChaosStatus, ControlPlane, ControlResult, SessionAction, SessionView } from './control.js';
import type { ChaosEngine } from './engine.js';
import { parseSessionBody } from './session-schema.js';

export interface ControlPlaneDeps {
  /** The engine in use now (the same object across reloads). */
  engine(): ChaosEngine;
  /** The config in use now: its `safety` fills what a session body omits. */
  config(): Config;
  reload: ControlPlane['reload'];
}

const conflict = (message: string): ControlResult<never> => ({ ok: false, error: 'conflict', message });
const notFound = (id: string): ControlResult<never> => ({
  ok: false,
  error: 'not_found',
  message: `no session ${id}`,
});

/** The admin API's view of the engine's sessions (SPEC section 7). */
export class EngineControl implements ControlPlane {
  constructor(private readonly deps: ControlPlaneDeps) {}

  listSessions(): SessionView[] {
    return [...this.deps.engine().sessions.values()].map((s) => s.view());
  }

  /** `id`: fleet mode names the session the same on every instance. */
  createSession(body: unknown, id?: string): ControlResult<SessionView> {
    const parsed = parseSessionBody(body, this.deps.config().safety);
    if (!parsed.ok)
      return { ok: false, error: 'invalid', message: 'invalid session', problems: parsed.problems };
    const engine = this.deps.engine();
    const live = [...engine.sessions.values()].some(
      (s) => s.name === parsed.value.name && (s.state === 'created' || s.state === 'running'),
    );
    // Names label `faultgate_session_active`, so they are unique among live sessions.
    if (live) return conflict(`a live session is already named "${parsed.value.name}"`);
    return { ok: true, value: engine.create(parsed.value, id).view() };
  }

  getSession(id: string): SessionView | undefined {
    return this.deps.engine().sessions.get(id)?.view();
  }

  deleteSession(id: string): ControlResult<SessionView> {
    const engine = this.deps.engine();
    const session = engine.sessions.get(id);
    if (!session) return notFound(id);
    if (session.running || session.state === 'created') session.end('aborted', 'deleted');
    engine.sessions.delete(id);
    return { ok: true, value: session.view() };
  }

  transition(id: string, action: SessionAction): ControlResult<SessionView> {
    const engine = this.deps.engine();
    const session = engine.sessions.get(id);
    if (!session) return notFound(id);
    const from = session.state;
    if (action === 'start') {
      if (from !== 'created') return conflict(`cannot start a session that is ${from}`);
      engine.start(session);
    } else if (action === 'stop') {
      if (from !== 'running') return conflict(`cannot stop a session that is ${from}`);
      session.end('stopped');
    } else {
      if (from !== 'running' && from !== 'created') return conflict(`cannot abort a session that is ${from}`);
      session.end('aborted', 'manual');
    }
    return { ok: true, value: session.view() };
  }

  abortAll(reason: string): SessionView[] {
    return this.deps
      .engine()
      .abortAll(reason)
      .map((s) => s.view());
  }

  resume(): SessionView {
    return this.deps.engine().resume().view();
  }

  getLevel(): number {
    return this.deps.engine().level;
  }

  chaosStatus(): ChaosStatus {
    const engine = this.deps.engine();
    const aborted = engine.aborted;
    return {
      level: engine.level,
      level_source: engine.levelSource,
      aborted: aborted !== undefined,
      abort_reason: aborted?.reason ?? null,
      aborted_at: aborted?.at ?? null,
    };
  }

  setLevel(level: number): ControlResult<number> {
    if (!Number.isFinite(level) || level < 0 || level > 10) {
      return {
        ok: false,
        error: 'invalid',
        message: 'level must be a number from 0 to 10',
        problems: [{ path: 'level', message: 'must be 0..10' }],
      };
    }
    this.deps.engine().setLevel(level);
    return { ok: true, value: level };
  }

  reload(): ReturnType<ControlPlane['reload']> {
    return this.deps.reload();
  }
}
