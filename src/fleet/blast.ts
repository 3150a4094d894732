import type { RadiusLock, Session } from '../chaos/session.js';
import type { FleetConfig } from '../config/schema.js';
import { blastKey, type Client } from './store.js';

/**
 * The first claim of a session's blast-radius lock wins, atomically: KEYS[1] the lock hash,
 * ARGV: session id, the claimed agent / tenant / trace. Returns the winner.
 */
export const CLAIM_SCRIPT = `
redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2])
return redis.call('HGET', KEYS[1], ARGV[1])`;

const RETRY_MS = 250;

export type Claim = (sessionId: string, value: string) => Promise<string>;

export async function claimLock(
  client: Client | undefined,
  cfg: FleetConfig,
  id: string,
  value: string,
): Promise<string> {
  if (!client?.isReady) throw new Error('fleet: Redis not connected');
  return String(await client.eval(CLAIM_SCRIPT, { keys: [blastKey(cfg)], arguments: [id, value] }));
}

/**
 * A fleet session's `single_agent` / `single_tenant` / `single_trace` lock, shared by every
 * instance. Until this instance knows the fleet's lock, the session injects nothing here: the
 * first candidate request sends a claim (in the background, the request does not wait) and
 * Redis answers with the winner. So no request outside the locked agent (tenant, trace) ever
 * gets a fault anywhere in the fleet; the price is that each instance's candidates during one
 * Redis round trip (or while Redis is down) get none.
 */
export class FleetRadius implements RadiusLock {
  private locked: string | undefined;
  private asking = false;
  private retryAt = 0;

  constructor(
    session: Session,
    private readonly claim: Claim,
    private readonly key = session.id,
  ) {}

  get value(): string | undefined {
    return this.locked;
  }

  admit(value: string): boolean {
    if (this.locked !== undefined) return value === this.locked;
    if (!this.asking && Date.now() >= this.retryAt) this.ask(value);
    return false;
  }

  private ask(value: string): void {
    this.asking = true;
    this.claim(this.key, value)
      .then((winner) => {
        this.locked = winner;
      })
      .catch(() => {
        this.retryAt = Date.now() + RETRY_MS;
      })
      .finally(() => {
        this.asking = false;
      });
  }
}
