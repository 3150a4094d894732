import type { TimelineEvent } from './report-model.js';

type Kind = TimelineEvent['kind'];

interface Slot {
  at: number;
  agent: string;
  tool: string;
  kind: Kind;
  detail: string | undefined;
}

/**
 * The most recent timeline events in a ring of preallocated slots: recording one rewrites a
 * slot in place, so the request path allocates nothing for the timeline.
 */
export class TimelineRing {
  private readonly slots: Slot[];
  private next = 0;
  private size = 0;

  constructor(readonly capacity: number) {
    this.slots = Array.from({ length: Math.max(0, capacity) }, () => ({
      at: 0,
      agent: '',
      tool: '',
      kind: 'request' as Kind,
      detail: undefined,
    }));
  }

  push(at: number, agent: string, tool: string, kind: Kind, detail?: string): void {
    if (this.capacity === 0) return;
    const s = this.slots[this.next]!;
    s.at = at;
    s.agent = agent;
    s.tool = tool;
    s.kind = kind;
    s.detail = detail;
    this.next = (this.next + 1) % this.capacity;
    if (this.size < this.capacity) this.size++;
  }

  /** Oldest first, as plain objects (copies: the slots keep being rewritten). */
  events(): TimelineEvent[] {
    const out: TimelineEvent[] = [];
    const start = (this.next - this.size + this.capacity) % Math.max(1, this.capacity);
    for (let i = 0; i < this.size; i++) {
      const s = this.slots[(start + i) % this.capacity]!;
      const e: TimelineEvent = { at: s.at, agent: s.agent, tool: s.tool, kind: s.kind };
      if (s.detail !== undefined) e.detail = s.detail;
      out.push(e);
    }
    return out;
  }
}
