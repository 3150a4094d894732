import { Gauge, type Registry } from 'prom-client';
import type { FleetConfig } from '../config/schema.js';
import type { Logger } from '../observe/logger.js';
import type { Client } from './store.js';

export interface HealthHooks {
  /** The link is back: flush queued writes and resync. */
  reconnected(): void;
  /** Fleet sessions stop (true) or resume (false) injecting. */
  suspend(on: boolean): void;
}

/**
 * Whether this instance reaches the fleet's Redis: down when the link drops or a heartbeat
 * `PING` goes unanswered (or is answered too late) for `suspend_after_ms / 2`; fleet sessions
 * suspend once it has been down for `suspend_after_ms`.
 */
export class LinkHealth {
  private downSince: number | undefined = Date.now();
  /** Last timely answer to a heartbeat: a hung Redis keeps its socket open but stops answering. */
  private lastPong = Date.now();
  private pinging = false;
  suspended = false;
  closed = false;
  private readonly connected: Gauge;
  private readonly suspendedGauge: Gauge;

  constructor(
    private readonly cfg: FleetConfig,
    private readonly logger: Logger,
    registry: Registry,
    private readonly hooks: HealthHooks,
  ) {
    this.connected = new Gauge({
      name: 'faultgate_fleet_connected',
      help: '1 while this instance reaches the fleet Redis',
      registers: [registry],
    });
    this.suspendedGauge = new Gauge({
      name: 'faultgate_fleet_suspended',
      help: '1 while fleet sessions are suspended (Redis unreachable for suspend_after_ms)',
      registers: [registry],
    });
  }

  get isDown(): boolean {
    return this.downSince !== undefined;
  }

  down(since = Date.now()): void {
    if (this.downSince !== undefined || this.closed) return;
    this.downSince = since;
    this.connected.set(0);
    this.logger.warn(
      { fleet: this.cfg.name },
      'fleet: Redis unreachable, traffic flows; chaos suspends soon',
    );
  }

  up(): void {
    this.downSince = undefined;
    this.lastPong = Date.now();
    this.connected.set(1);
    if (this.suspended) this.setSuspended(false);
    this.logger.info({ fleet: this.cfg.name, instance: this.cfg.instance }, 'fleet: connected to Redis');
    this.hooks.reconnected();
  }

  /** One tick: a heartbeat, and the suspension once Redis has been down long enough. */
  tick(client: Client | undefined): void {
    this.heartbeat(client);
    if (this.downSince === undefined || this.suspended) return;
    if (Date.now() - this.downSince >= this.cfg.suspend_after_ms) this.setSuspended(true);
  }

  /** One PING in flight at a time; a Redis that answers none in time is down. */
  private heartbeat(client: Client | undefined): void {
    if (!client?.isReady || this.pinging) {
      // Down since the last answer: suspension comes suspend_after_ms after Redis went quiet.
      if (this.pinging && Date.now() - this.lastPong > this.cfg.suspend_after_ms / 2)
        this.down(this.lastPong);
      return;
    }
    this.pinging = true;
    const sent = Date.now();
    client
      .ping()
      .then(() => {
        // An answer slower than the bound is no answer: a crawling Redis stays down (no flapping).
        if (Date.now() - sent > this.cfg.suspend_after_ms / 2) return;
        this.lastPong = Date.now();
        // The link came back without a reconnect (a slow or paused Redis).
        if (this.downSince !== undefined && client.isReady) this.up();
      })
      .catch(() => {})
      .finally(() => {
        this.pinging = false;
      });
  }

  private setSuspended(on: boolean): void {
    this.suspended = on;
    this.suspendedGauge.set(on ? 1 : 0);
    this.hooks.suspend(on);
    this.logger.warn(
      { fleet: this.cfg.name },
      on ? 'fleet: sessions suspended (no chaos without shared safety)' : 'fleet: sessions resumed',
    );
  }
}
