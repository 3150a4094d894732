import type { InjectionLease, Session } from '../chaos/session.js';
import type { FleetConfig } from '../config/schema.js';
import { budgetKey, type Client } from './store.js';

/**
 * Grants up to `want` of the fleet's remaining budget for one session, atomically: the sum of
 * all grants never exceeds `max`. KEYS[1] the budget hash, ARGV: session id, max, want.
 */
export const LEASE_SCRIPT = `
local used = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
local grant = math.min(tonumber(ARGV[3]), tonumber(ARGV[2]) - used)
if grant <= 0 then return 0 end
redis.call('HINCRBY', KEYS[1], ARGV[1], grant)
return grant`;

/** Tokens per lease: small against the limit so unused leases waste little, at most 50. */
export const blockSize = (max: number): number => Math.max(1, Math.min(50, Math.ceil(max / 20)));

const RETRY_MS = 250;

export type AskBudget = (sessionId: string, max: number, want: number) => Promise<number>;

/** One grant from the fleet's budget; rejects when Redis is not connected (no token then). */
export async function askBudget(
  client: Client | undefined,
  cfg: FleetConfig,
  id: string,
  max: number,
  want: number,
): Promise<number> {
  if (!client?.isReady) throw new Error('fleet: Redis not connected');
  const granted = await client.eval(LEASE_SCRIPT, {
    keys: [budgetKey(cfg)],
    arguments: [id, String(max), String(want)],
  });
  return Number(granted);
}

/**
 * A session's share of the fleet's `max_affected_requests`. The data path only reads and
 * decrements a local count; a new block is asked for in the background when it runs low, so no
 * request waits on Redis. Without tokens (Redis slow or down, or the budget spent) the session
 * injects nothing. Once Redis grants nothing more and the tokens are gone, the session trips
 * `max_affected_requests`, which the fleet turns into an abort on every instance.
 */
export class BudgetLease implements InjectionLease {
  private tokens = 0;
  private asking = false;
  private spent = false;
  /** After a failed ask (Redis down), wait before the next: not one Redis call per request. */
  private retryAt = 0;
  private readonly block: number;
  private readonly low: number;

  constructor(
    private readonly session: Session,
    private readonly max: number,
    private readonly ask: AskBudget,
    /** The fleet grants nothing more and the tokens are gone (default: trip max_affected). */
    private readonly spentHook: () => void = () => session.budgetSpent(),
    /** Its field in the budget hash (a shared `default` has one per generation). */
    private readonly key = session.id,
  ) {
    this.block = blockSize(max);
    this.low = Math.floor(this.block / 2);
  }

  admit(): boolean {
    if (this.tokens <= this.low) this.refill();
    return this.tokens > 0;
  }

  consumed(): void {
    this.tokens--;
    if (this.tokens <= 0 && this.spent) this.spentHook();
    else if (this.tokens <= this.low) this.refill();
  }

  /** Asks again (after Redis came back); a no-op while a request is out or the budget is spent. */
  refill(): void {
    if (this.asking || this.spent || !this.session.running || Date.now() < this.retryAt) return;
    this.asking = true;
    this.ask(this.key, this.max, this.block)
      .then((granted) => {
        this.tokens += granted;
        if (granted > 0) return;
        this.spent = true;
        if (this.tokens <= 0) this.spentHook();
      })
      .catch(() => {
        this.retryAt = Date.now() + RETRY_MS;
      })
      .finally(() => {
        this.asking = false;
      });
  }
}
