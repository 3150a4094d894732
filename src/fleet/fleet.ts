import { randomBytes } from 'node:crypto';
import type { FleetStatus } from '../chaos/control.js';
import type { ChaosEngine } from '../chaos/engine.js';
import type { Session } from '../chaos/session.js';
import { parseSessionBody } from '../chaos/session-schema.js';
import { type Claim, claimLock, FleetRadius } from './blast.js';
import { CascadeCounter } from './cascade.js';
import { SharedDefault } from './default.js';
import type { FleetDeps } from './deps.js';
import { LinkHealth } from './health.js';
import { type AskBudget, askBudget, BudgetLease } from './lease.js';
import type { FleetConfig } from '../config/schema.js';
import {
  type ChaosField,
  type Client,
  type DefaultField,
  channel,
  decodeDoc,
  docKey,
  type FleetDoc,
  PendingWrites,
  type SessionField,
} from './store.js';

/** The default of `fleet.resync_ms`: a lost message or a restarted instance converges. */
export const RESYNC_MS = 2000;

/** How long shutdown waits for Redis (last writes, QUIT) before it lets go. */
const CLOSE_MS = 1000;

/** Settles when `p` does or after `ms`, whichever is first; never rejects. */
export async function within(p: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((r) => {
    timer = setTimeout(r, ms);
  });
  await Promise.race([p.catch(() => {}), timeout]);
  clearTimeout(timer);
}

const ENDED = new Set(['stopped', 'aborted', 'completed']);
/** Blast radii locked fleet-wide to the first agent, tenant or trace claimed in Redis. */
const LOCKS = new Set(['single_agent', 'single_tenant', 'single_trace']);

/**
 * One instance's link to the fleet: applies the shared control document to the local engine
 * (on every pub/sub message and every `resync_ms`) and writes local changes to it. Nothing on the
 * data path waits on Redis: requests read the local engine, which this keeps in step.
 */
export class Fleet {
  private client: Client | undefined;
  private sub: Client | undefined;
  private readonly pending: PendingWrites;
  /** Fleet sessions this instance knows, as last stored (their body re-creates them). */
  private readonly known = new Map<string, SessionField>();
  private readonly cascade: CascadeCounter;
  /** `share_default: true`: the config's `default` is a fleet session. */
  private readonly shared: SharedDefault | undefined;
  private epoch: number | undefined;
  private appliedV = -1;
  private applying = false;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly health: LinkHealth;

  constructor(
    readonly cfg: FleetConfig,
    private readonly deps: FleetDeps,
  ) {
    this.cascade = new CascadeCounter(cfg, (key) =>
      key === this.shared?.key ? this.shared.session : deps.engine().sessions.get(key),
    );
    this.pending = new PendingWrites(
      () => this.client,
      cfg,
      deps.logger,
      (e) => {
        this.epoch = e;
      },
    );
    this.shared = cfg.share_default
      ? new SharedDefault(deps, this.pending, (session, key) => this.adopt(session, key), deps.registry)
      : undefined;
    this.health = new LinkHealth(cfg, deps.logger, deps.registry, {
      reconnected: () => void this.pending.flush().then(() => this.sync()),
      suspend: (on) => this.suspend(on),
    });
  }

  /** Connects in the background: an unreachable Redis never delays or fails the start. */
  async start(): Promise<void> {
    // Lazy: a standalone faultgate never loads the Redis client.
    const { createClient } = await import('redis');
    const client = createClient({
      url: this.cfg.redis,
      disableOfflineQueue: true,
      socket: { connectTimeout: 2000, reconnectStrategy: (n: number) => Math.min(50 * 2 ** n, 1000) },
    }) as unknown as Client;
    this.client = client;
    this.sub = client.duplicate();
    const down = () => this.health.down();
    for (const c of [client, this.sub]) c.on('error', down);
    client.on('ready', () => this.health.up());
    client.on('end', down);
    client.on('reconnecting', down);
    void client.connect().catch(down);
    void this.sub
      .connect()
      .then(() => this.sub?.subscribe(channel(this.cfg), () => void this.sync()))
      .catch(() => {});
    const tick = Math.min(500, Math.max(50, Math.floor(this.cfg.suspend_after_ms / 4)));
    let n = 0;
    this.timer = setInterval(() => {
      this.health.tick(this.client);
      void this.cascade.flush(this.client);
      if (++n * tick >= this.cfg.resync_ms) {
        n = 0;
        void this.pending.flush().then(() => this.sync());
      }
    }, tick);
    this.timer.unref();
  }

  /** The command connection (undefined before start). */
  get redis(): Client | undefined {
    return this.client;
  }

  newSessionId(): string {
    return `f-${randomBytes(6).toString('hex')}`;
  }

  status(): FleetStatus {
    return {
      name: this.cfg.name,
      instance: this.cfg.instance,
      state: this.health.isDown ? 'degraded' : 'connected',
      suspended: this.health.suspended,
    };
  }

  /** `fleet` for a session every instance shares (API sessions, a shared `default`). */
  scopeOf(id: string): 'local' | 'fleet' {
    return this.known.has(id) || (id === 'default' && this.shared !== undefined) ? 'fleet' : 'local';
  }

  publishSession(id: string, field: SessionField): void {
    this.known.set(id, field);
    const session = this.deps.engine().sessions.get(id);
    if (session) this.adopt(session);
    this.pending.set(`session:${id}`, field);
  }

  publishState(id: string, state: SessionField['state'], reason?: string): void {
    const known = this.known.get(id);
    if (!known) return;
    this.publishSession(id, { body: known.body, state, ...(reason ? { reason } : {}) });
  }

  publishChaos(chaos: ChaosField): void {
    this.pending.setChaos(chaos);
  }

  publishLevel(level: number): void {
    this.pending.set('level', level);
  }

  /** A fleet session here: suspended with the link, its injection budget leased fleet-wide. */
  private adopt(session: Session, key = session.id): void {
    session.suspended = this.health.suspended;
    const { max_affected_requests, max_blast_radius: radius } = session.input.safety;
    // single_request fleet-wide: one token for the whole fleet, asked by the first candidate.
    const single = radius === 'single_request';
    const max = single ? 1 : max_affected_requests;
    if (max > 0 && !session.lease) {
      // No cause: the instance that injected the one request tells the fleet, not the others.
      const spent = single ? () => session.end('completed') : undefined;
      session.lease = new BudgetLease(session, max, this.askBudget, spent, key);
    }
    if (LOCKS.has(radius)) session.radius ??= new FleetRadius(session, this.claim, key);
    // Lease a first block as the session starts, so its first requests need not miss out.
    if (session.running && !single) session.lease?.refill();
  }

  private readonly claim: Claim = (id, value) => claimLock(this.client, this.cfg, id, value);

  private readonly askBudget: AskBudget = (id, max, want) => askBudget(this.client, this.cfg, id, max, want);

  /** A real upstream failure here: counted for every running fleet session (cascade). */
  upstreamFailure(): void {
    const engine = this.deps.engine();
    for (const id of this.known.keys()) if (engine.sessions.get(id)?.running) this.cascade.add(id);
    if (this.shared?.session?.running) this.cascade.add(this.shared.key);
  }

  /** A reload here: with `share_default`, this instance's `default` becomes the fleet's. */
  reloaded(): void {
    this.shared?.reloaded(...this.defaultState());
  }

  /** A stop or start of `default` over the API reaches the fleet (with `share_default`). */
  defaultChanged(): void {
    this.shared?.publish(...this.defaultState());
  }

  private defaultState(): [DefaultField['state'], string | undefined] {
    const local = this.deps.engine().sessions.get('default');
    if (local?.running) return ['running', undefined];
    return local?.state === 'aborted' ? ['aborted', local.abortReason ?? undefined] : ['stopped', undefined];
  }

  /** A resume here starts a new generation of the shared `default` everywhere. */
  resumed(): void {
    this.shared?.resumed();
  }

  /** The engine's `ended` hook: a local stop or abort (operator or safety) reaches the fleet. */
  sessionEnded(session: Session, state: string, reason: string | null): void {
    if (this.shared && session.id === 'default') {
      if (!this.applying && this.shared.session === session)
        this.shared.publish(state === 'aborted' ? 'aborted' : 'stopped', reason ?? undefined);
      return;
    }
    // A session timing out ends on every instance by itself; an applied change is not echoed.
    // single_request is the exception: its one request fleet-wide is spent, the others end too.
    const timedOut = state === 'completed' && session.input.safety.max_blast_radius !== 'single_request';
    if (this.applying || timedOut || !this.known.has(session.id)) return;
    this.publishState(session.id, state as SessionField['state'], reason ?? undefined);
  }

  /** Reads the whole document and applies it (idempotent: only forward moves apply). */
  async sync(): Promise<void> {
    const client = this.client;
    if (!client?.isReady || this.closed) return;
    try {
      const doc = decodeDoc(await client.hGetAll(docKey(this.cfg)));
      // A Redis that came back empty (no persistence): the fleet's state lives on in us.
      if (doc.v === 0 && this.known.size > 0) return this.republish();
      if (doc.v !== this.appliedV) this.apply(doc);
      this.appliedV = doc.v;
    } catch (err) {
      this.deps.logger.warn({ err: (err as Error).message }, 'fleet: resync failed');
    }
  }

  private republish(): void {
    this.deps.logger.warn({ fleet: this.cfg.name }, 'fleet: Redis lost the control document, writing ours');
    for (const [id, field] of this.known) this.pending.set(`session:${id}`, field);
    if (this.shared) this.defaultChanged();
    if (this.deps.engine().levelSource === 'api') this.publishLevel(this.deps.engine().level);
  }

  private apply(doc: FleetDoc): void {
    const engine = this.deps.engine();
    this.applying = true;
    try {
      if (doc.level !== undefined && !this.pending.has('level') && engine.level !== doc.level) {
        engine.setLevel(doc.level);
      }
      this.applyChaos(engine, doc);
      this.shared?.apply(doc);
      for (const [id, field] of doc.sessions) {
        if (!this.pending.has(`session:${id}`)) this.applySession(engine, id, field);
      }
    } finally {
      this.applying = false;
    }
  }

  private applyChaos(engine: ChaosEngine, doc: FleetDoc): void {
    // The first read of the document: a join, not a change (a joiner applies no old resume).
    const first = this.appliedV === -1;
    if (doc.epoch === this.epoch) return;
    this.epoch = doc.epoch;
    if (!doc.chaos) return;
    const aborted = doc.chaos.aborted;
    if (aborted && !engine.aborted) engine.abortAll(aborted.reason);
    else if (!aborted && !first && engine.aborted) engine.resume();
  }

  private applySession(engine: ChaosEngine, id: string, field: SessionField): void {
    this.known.set(id, field);
    let session = engine.sessions.get(id);
    if (!session) {
      if (field.state !== 'created' && field.state !== 'running') return;
      const parsed = parseSessionBody(field.body, this.deps.config().safety);
      if (!parsed.ok) {
        this.deps.logger.warn({ session: id, problems: parsed.problems }, 'fleet: session rejected here');
        return;
      }
      session = engine.create(parsed.value, id);
      this.adopt(session);
    }
    const live = session.running || session.state === 'created';
    if (field.state === 'running' && session.state === 'created') {
      engine.start(session);
      this.adopt(session);
    } else if (ENDED.has(field.state) && live) {
      session.end(field.state as 'stopped' | 'aborted' | 'completed', field.reason);
    } else if (field.state === 'deleted') {
      if (live) session.end('aborted', 'deleted');
      engine.sessions.delete(id);
    }
  }

  /** Fleet sessions stop or resume injecting; admits() reads the flag on every decision. */
  private suspend(on: boolean): void {
    for (const id of this.known.keys()) {
      const s = this.deps.engine().sessions.get(id);
      if (s) s.suspended = on;
    }
    if (this.shared?.session) this.shared.session.suspended = on;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.health.closed = true;
    clearInterval(this.timer);
    // A hung Redis must not hang the shutdown: the last writes get a bounded chance.
    await within(this.pending.flush(), CLOSE_MS);
    for (const c of [this.sub, this.client]) {
      // Reconnecting or never connected: destroy stops the retries; quit only when it can send.
      try {
        if (c?.isReady) await within(c.quit(), CLOSE_MS);
        if (c?.isOpen) c.destroy();
      } catch {
        // Already closed.
      }
    }
  }
}
