/** Per-key state for quotas and budgets, bounded so that a stream of new agent names cannot grow memory. */

/** Keys kept per fault instance; the least recently used key is forgotten first (its quota starts afresh). */
export const MAX_KEYS = 10_000;

/** A Map with a size cap that evicts the least recently used key. */
export class BoundedMap<V> {
  private readonly map = new Map<string, V>();

  constructor(private readonly max = MAX_KEYS) {}

  get size(): number {
    return this.map.size;
  }

  /** The value of `key`, created with `create` when absent; the key becomes the most recent. */
  get(key: string, create: () => V): V {
    const found = this.map.get(key);
    if (found !== undefined) {
      // Re-inserting moves the key to the end of the Map's insertion order.
      this.map.delete(key);
      this.map.set(key, found);
      return found;
    }
    if (this.map.size >= this.max) this.map.delete(this.map.keys().next().value!);
    const value = create();
    this.map.set(key, value);
    return value;
  }
}

export interface Bucket {
  /** Tokens available; negative when usage counted after the fact overdrew the bucket. */
  level: number;
  /** When `level` was last brought up to date (ms). */
  at: number;
}

/** Floating-point slack, so that waiting exactly the announced time always finds the token there. */
const EPSILON = 1e-9;

/**
 * Token buckets by key: `capacity` tokens, refilled continuously at capacity per window, a new
 * key starting full. `take` spends whole tokens for requests; `charge` may overdraw (usage is
 * known only when a response ends), which then delays later requests until the debt is refilled.
 */
export class TokenBuckets {
  private readonly buckets: BoundedMap<Bucket>;
  /** Refill rate in tokens per ms. */
  private readonly rate: number;

  constructor(
    readonly capacity: number,
    readonly windowMs: number,
    maxKeys = MAX_KEYS,
  ) {
    this.rate = capacity / windowMs;
    this.buckets = new BoundedMap(maxKeys);
  }

  /** The key's bucket, refilled up to `now`. */
  refill(key: string, now: number): Bucket {
    const b = this.buckets.get(key, () => ({ level: this.capacity, at: now }));
    const elapsed = Math.max(0, now - b.at); // a clock stepping back refills nothing
    b.level = Math.min(this.capacity, b.level + elapsed * this.rate);
    b.at = now;
    return b;
  }

  /** Ms until the bucket holds one whole token (0 when it does). */
  waitMs(b: Bucket): number {
    return b.level >= 1 - EPSILON ? 0 : (1 - b.level) / this.rate;
  }

  /** Ms until the bucket is full again (what OpenAI's `x-ratelimit-reset-*` headers report). */
  resetMs(b: Bucket): number {
    return Math.max(0, (this.capacity - b.level) / this.rate);
  }

  /** Whole tokens left, for `*-remaining` headers. */
  remaining(b: Bucket): number {
    return Math.max(0, Math.floor(b.level + EPSILON));
  }

  charge(key: string, now: number, amount: number): void {
    this.refill(key, now).level -= amount;
  }
}
