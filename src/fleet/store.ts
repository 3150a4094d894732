import type { RedisClientType } from 'redis';
import type { SessionInput } from '../chaos/control.js';
import type { FleetConfig } from '../config/schema.js';
import type { Logger } from '../observe/logger.js';

/**
 * The fleet's shared control document: one Redis hash per fleet name. Fields:
 * `v` (bumped by every write), `level`, `epoch` + `chaos` (abort-all / resume) and one
 * `session:<id>` per fleet session. Each write sets whole fields (no read-modify-write), so
 * writers on different instances never lose each other's changes to different fields.
 */
export interface FleetDoc {
  v: number;
  level?: number;
  epoch: number;
  chaos?: ChaosField;
  sessions: Map<string, SessionField>;
  /** `fleet.share_default`: the shared `default` session. */
  default?: DefaultField;
}

/** The fleet's `default`: its definition, generation (bumped by resume) and state. */
export interface DefaultField {
  input: SessionInput;
  gen: number;
  state: 'running' | 'stopped' | 'aborted';
  reason?: string;
}

export interface ChaosField {
  aborted: { reason: string; at: string } | null;
}

/** A fleet session as stored: the raw API body, so every instance validates it the same way. */
export interface SessionField {
  body: unknown;
  state: 'created' | 'running' | 'stopped' | 'aborted' | 'completed' | 'deleted';
  reason?: string;
}

export type Client = RedisClientType;

export const docKey = (cfg: FleetConfig): string => `faultgate:${cfg.name}:control`;
/** Injection budget granted so far, per fleet session id (`max_affected_requests`). */
export const budgetKey = (cfg: FleetConfig): string => `faultgate:${cfg.name}:budget`;
/** Real upstream failures seen by the whole fleet, per fleet session id (cascade detection). */
export const cascadeKey = (cfg: FleetConfig): string => `faultgate:${cfg.name}:cascade`;
/** Blast-radius locks of fleet sessions: the agent, tenant or trace each is locked to. */
export const blastKey = (cfg: FleetConfig): string => `faultgate:${cfg.name}:blast`;
export const channel = (cfg: FleetConfig): string => `faultgate:${cfg.name}:changes`;

const parse = <T>(text: string | undefined): T | undefined => {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as T;
  } catch {
    return undefined;
  }
};

export function decodeDoc(hash: Record<string, string>): FleetDoc {
  const sessions = new Map<string, SessionField>();
  for (const [field, text] of Object.entries(hash)) {
    if (!field.startsWith('session:')) continue;
    const s = parse<SessionField>(text);
    if (s && typeof s.state === 'string') sessions.set(field.slice(8), s);
  }
  const level = parse<number>(hash.level);
  const chaos = parse<ChaosField>(hash.chaos);
  const shared = parse<DefaultField>(hash.default);
  return {
    v: Number(hash.v ?? 0),
    ...(typeof level === 'number' ? { level } : {}),
    epoch: Number(hash.epoch ?? 0),
    ...(chaos ? { chaos } : {}),
    ...(shared && typeof shared.gen === 'number' && shared.input ? { default: shared } : {}),
    sessions,
  };
}

/** Fields waiting to reach Redis: written again (last value wins) until a write succeeds. */
export class PendingWrites {
  private readonly fields = new Map<string, string>();
  /** A chaos change bumps `epoch` so every instance applies it exactly once. */
  private chaos: string | undefined;
  private flushing: Promise<void> | undefined;

  constructor(
    private readonly client: () => Client | undefined,
    private readonly cfg: FleetConfig,
    private readonly logger: Logger,
    private readonly onEpoch: (epoch: number) => void,
  ) {}

  get size(): number {
    return this.fields.size + (this.chaos ? 1 : 0);
  }

  has(field: string): boolean {
    return this.fields.has(field);
  }

  set(field: string, value: unknown): void {
    this.fields.set(field, JSON.stringify(value));
    void this.flush();
  }

  setChaos(value: ChaosField): void {
    this.chaos = JSON.stringify(value);
    void this.flush();
  }

  flush(): Promise<void> {
    this.flushing ??= this.write().finally(() => {
      this.flushing = undefined;
    });
    return this.flushing;
  }

  private async write(): Promise<void> {
    const client = this.client();
    if (!client?.isReady || this.size === 0) return;
    const fields = new Map(this.fields);
    const chaos = this.chaos;
    const key = docKey(this.cfg);
    const multi = client.multi();
    if (fields.size > 0) multi.hSet(key, Object.fromEntries(fields));
    if (chaos) multi.hIncrBy(key, 'epoch', 1).hSet(key, 'chaos', chaos);
    multi.hIncrBy(key, 'v', 1).publish(channel(this.cfg), this.cfg.instance);
    let failed = false;
    try {
      const replies = await multi.exec();
      for (const [f, text] of fields) if (this.fields.get(f) === text) this.fields.delete(f);
      if (chaos && this.chaos === chaos) {
        this.chaos = undefined;
        this.onEpoch(Number(replies[fields.size > 0 ? 1 : 0]));
      }
    } catch (err) {
      failed = true;
      this.logger.warn({ err: (err as Error).message }, 'fleet: write to Redis failed, will retry');
    }
    // Changes made while this write was in flight go now; a failed write waits for the next tick.
    if (!failed && this.size > 0 && client.isReady) setImmediate(() => void this.flush());
  }
}
