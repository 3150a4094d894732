import type { EngineControl } from '../chaos/control-plane.js';
import type {
  ChaosStatus,
  ControlPlane,
  ControlResult,
  SessionAction,
  SessionView,
} from '../chaos/control.js';
import type { Fleet } from './fleet.js';

/**
 * The admin API in fleet mode: every change applies to this instance at once (the API answers
 * as before) and is written to Redis, from where every other instance applies it.
 */
export class FleetControl implements ControlPlane {
  constructor(
    private readonly local: EngineControl,
    private readonly fleet: Fleet,
  ) {}

  listSessions(): SessionView[] {
    return this.local.listSessions().map(this.scoped);
  }

  /** Says in every view whether the fleet shares the session (the CLI shows it). */
  private readonly scoped = (view: SessionView): SessionView => ({
    ...view,
    scope: this.fleet.scopeOf(view.id),
  });

  private scopedResult(result: ControlResult<SessionView>): ControlResult<SessionView> {
    return result.ok ? { ok: true, value: this.scoped(result.value) } : result;
  }

  createSession(body: unknown): ControlResult<SessionView> {
    const result = this.local.createSession(body, this.fleet.newSessionId());
    if (result.ok) this.fleet.publishSession(result.value.id, { body, state: 'created' });
    return this.scopedResult(result);
  }

  getSession(id: string): SessionView | undefined {
    const view = this.local.getSession(id);
    return view && this.scoped(view);
  }

  deleteSession(id: string): ControlResult<SessionView> {
    const result = this.local.deleteSession(id);
    if (result.ok) this.fleet.publishState(id, 'deleted');
    return this.scopedResult(result);
  }

  transition(id: string, action: SessionAction): ControlResult<SessionView> {
    const result = this.local.transition(id, action);
    // Stop and abort reach Redis through the engine's `ended` hook (as safety aborts do).
    if (result.ok && action === 'start') this.fleet.publishState(id, 'running');
    if (result.ok && id === 'default') this.fleet.defaultChanged();
    return this.scopedResult(result);
  }

  abortAll(reason: string): SessionView[] {
    const aborted = this.local.abortAll(reason);
    this.fleet.publishChaos({ aborted: { reason, at: new Date().toISOString() } });
    return aborted.map(this.scoped);
  }

  resume(): SessionView {
    const view = this.local.resume();
    // The new generation of a shared `default` is written before the resume that starts it.
    this.fleet.resumed();
    this.fleet.publishChaos({ aborted: null });
    return this.scoped(view);
  }

  getLevel(): number {
    return this.local.getLevel();
  }

  chaosStatus(): ChaosStatus {
    return { ...this.local.chaosStatus(), fleet: this.fleet.status() };
  }

  setLevel(level: number): ControlResult<number> {
    const result = this.local.setLevel(level);
    if (result.ok) this.fleet.publishLevel(level);
    return result;
  }

  reload(): ReturnType<ControlPlane['reload']> {
    return this.local.reload();
  }
}
