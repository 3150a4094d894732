import { Counter, type Registry } from 'prom-client';
import type { SessionInput } from '../chaos/control.js';
import { defaultInput } from '../chaos/engine.js';
import type { Session } from '../chaos/session.js';
import type { FleetDeps } from './deps.js';
import type { DefaultField, FleetDoc, PendingWrites } from './store.js';

/**
 * `fleet.share_default: true`: the config's `default` session is one session of the fleet.
 * Every instance starts it from its own config at boot (no wait on Redis); the first to reach
 * Redis writes its definition to the `default` field, and from then on the field wins: an
 * instance whose config disagrees runs the fleet's definition and logs and counts the
 * mismatch. A reload on any instance writes that instance's definition for the whole fleet.
 * Stop and abort (operator or safety) reach every instance; resume starts a new generation,
 * whose safety counters (budget, cascade, blast-radius lock) start afresh.
 */
export class SharedDefault {
  /** The local `default` adopted as a fleet session, and the key of its safety counters. */
  private adopted: Session | undefined;
  private gen = 0;
  /** The definition last read from the fleet's field. */
  private fleetInput: SessionInput | undefined;
  /** Last disagreement reported: each distinct one is logged and counted once. */
  private reported: string | undefined;
  private readonly mismatch: Counter;

  constructor(
    private readonly deps: FleetDeps,
    private readonly pending: PendingWrites,
    private readonly adopt: (session: Session, key: string) => void,
    registry: Registry,
  ) {
    this.mismatch = new Counter({
      name: 'faultgate_fleet_default_mismatch_total',
      help: "The fleet's shared `default` differs from this instance's config (the fleet's runs)",
      registers: [registry],
    });
  }

  get key(): string {
    return `default@${this.gen}`;
  }

  /** The local `default` while it is the fleet's (for suspension and cascade counting). */
  get session(): Session | undefined {
    const local = this.deps.engine().sessions.get('default');
    return local !== undefined && local === this.adopted ? local : undefined;
  }

  /**
   * Writes the fleet's `default`: the definition in force (the fleet's, or this instance's on
   * the first write), unless `input` says otherwise (a reload: the config just loaded).
   */
  publish(state: DefaultField['state'], reason?: string, gen = this.gen, input?: SessionInput): void {
    const value = input ?? this.fleetInput ?? this.deps.engine().sessions.get('default')?.input;
    this.pending.set('default', {
      input: value ?? defaultInput(this.deps.config()),
      gen,
      state,
      ...(reason ? { reason } : {}),
    });
  }

  /** A reload here: the config just loaded is the fleet's `default` from now on. */
  reloaded(state: DefaultField['state'], reason?: string): void {
    this.publish(state, reason, this.gen, defaultInput(this.deps.config()));
  }

  /** After a local resume: a new generation, started everywhere. */
  resumed(): void {
    this.gen++;
    this.publish('running');
  }

  apply(doc: FleetDoc): void {
    // A write of ours still on its way: the stored field is older than what we know.
    const field = this.pending.has('default') ? undefined : doc.default;
    if (field) {
      this.gen = field.gen;
      this.fleetInput = field.input;
      this.report(field.input);
    } else if (!doc.default) {
      // The first instance to reach Redis: its config's `default` becomes the fleet's.
      this.publish('running');
    }
    const local = this.deps.engine().sessions.get('default');
    if (!local?.running) return;
    if (field && JSON.stringify(local.input) !== JSON.stringify(field.input)) local.reconfigure(field.input);
    // Adopted whatever the field says: until then its safety counters would be local only.
    // A resume re-creates `default`: the new one gets the new generation's counters.
    if (this.adopted !== local) {
      this.adopted = local;
      this.adopt(local, this.key);
    }
    if (field && field.state !== 'running') local.end(field.state, field.reason);
  }

  private report(fleet: SessionInput): void {
    const own = JSON.stringify(defaultInput(this.deps.config()));
    const theirs = JSON.stringify(fleet);
    if (own === theirs) {
      this.reported = undefined;
      return;
    }
    if (this.reported === own + theirs) return;
    this.reported = own + theirs;
    this.mismatch.inc();
    this.deps.logger.warn(
      { experiments: fleet.experiments.map((e) => e.name) },
      "fleet: this instance's config disagrees with the fleet's default session; the fleet's runs",
    );
  }
}
