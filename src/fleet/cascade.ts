import type { Session } from '../chaos/session.js';
import type { FleetConfig } from '../config/schema.js';
import { cascadeKey, type Client } from './store.js';

/**
 * Real upstream failures per running fleet session, added to the fleet's count in Redis in
 * one pipeline per tick. The instance whose addition takes the fleet's total over the
 * session's `cascade_threshold` aborts it, and the abort reaches every instance.
 */
export class CascadeCounter {
  /** Not yet added to the fleet's count: one number per fleet session (bounded). */
  private readonly pending = new Map<string, number>();

  constructor(
    private readonly cfg: FleetConfig,
    private readonly session: (id: string) => Session | undefined,
  ) {}

  add(id: string, n = 1): void {
    this.pending.set(id, (this.pending.get(id) ?? 0) + n);
  }

  async flush(client: Client | undefined): Promise<void> {
    if (this.pending.size === 0 || !client?.isReady) return;
    const batch = [...this.pending];
    this.pending.clear();
    try {
      const pipe = client.multi();
      for (const [id, n] of batch) pipe.hIncrBy(cascadeKey(this.cfg), id, n);
      const totals = await pipe.execAsPipeline();
      batch.forEach(([id], i) => {
        const session = this.session(id);
        if (session?.running && Number(totals[i]) > session.input.safety.cascade_threshold) {
          session.fleetCascade();
        }
      });
    } catch {
      // Added again next tick.
      for (const [id, n] of batch) this.add(id, n);
    }
  }
}
