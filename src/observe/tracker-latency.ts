/**
 * Latency quantiles with bounded memory: a log-bucketed histogram in the style of DDSketch.
 * Bucket i holds (MIN·γ^(i−1), MIN·γ^i] and answers 2·MIN·γ^i/(γ+1), so any quantile is within
 * ±5% of a value actually seen (values under 0.1 ms answer ~0.1 ms, over an hour answer ~1 h).
 * Histograms merge exactly, which is how per-agent and overall roll-ups get their p99.
 */

const RELATIVE_ERROR = 0.05;
const GAMMA = (1 + RELATIVE_ERROR) / (1 - RELATIVE_ERROR);
const LOG_GAMMA = Math.log(GAMMA);
/** Smallest and largest latency told apart, in milliseconds. */
const MIN_MS = 0.1;
const MAX_MS = 3_600_000;
/** 175 buckets cover 0.1 ms .. 1 h; a histogram stores only the range it has seen. */
const BUCKETS = Math.ceil(Math.log(MAX_MS / MIN_MS) / LOG_GAMMA) + 1;
/** Room added on each side when the stored range grows, so a histogram grows a few times at most. */
const SLACK = 8;
const EMPTY = new Uint32Array(0);

function indexOf(ms: number): number {
  if (!(ms > MIN_MS)) return 0; // also catches NaN and negative clock skew
  const i = Math.ceil(Math.log(ms / MIN_MS) / LOG_GAMMA);
  return i < BUCKETS ? i : BUCKETS - 1;
}

function bucketValue(index: number): number {
  return (2 * MIN_MS * GAMMA ** index) / (GAMMA + 1);
}

export class LatencyHistogram {
  private counts: Uint32Array = EMPTY;
  /** Bucket index of counts[0]. */
  private offset = 0;
  count = 0;

  /** Records one latency in milliseconds. No allocation unless the stored range must grow. */
  add(ms: number, n = 1): void {
    const i = indexOf(ms);
    this.addAt(i, n);
  }

  private addAt(i: number, n: number): void {
    let slot = i - this.offset;
    if (slot < 0 || slot >= this.counts.length) {
      this.grow(i);
      slot = i - this.offset;
    }
    this.counts[slot]! += n;
    this.count += n;
  }

  private grow(i: number): void {
    const old = this.counts;
    const lo = Math.max(0, Math.min(old.length ? this.offset : i, i) - SLACK);
    const hi = Math.min(BUCKETS - 1, Math.max(old.length ? this.offset + old.length - 1 : i, i) + SLACK);
    const next = new Uint32Array(hi - lo + 1);
    if (old.length > 0) next.set(old, this.offset - lo);
    this.counts = next;
    this.offset = lo;
  }

  /** Adds another histogram's counts into this one. */
  merge(other: LatencyHistogram): void {
    const counts = other.counts;
    for (let s = 0; s < counts.length; s++) {
      const n = counts[s]!;
      if (n > 0) this.addAt(other.offset + s, n);
    }
  }

  /** Nearest-rank quantile in milliseconds (q in 0..1); null when nothing was recorded. */
  quantile(q: number): number | null {
    if (this.count === 0) return null;
    const rank = Math.max(1, Math.ceil(q * this.count));
    let seen = 0;
    const counts = this.counts;
    for (let s = 0; s < counts.length; s++) {
      seen += counts[s]!;
      if (seen >= rank) return bucketValue(this.offset + s);
    }
    return bucketValue(this.offset + counts.length - 1);
  }

  /** Buckets currently stored (for memory tests). */
  get storedBuckets(): number {
    return this.counts.length;
  }
}
