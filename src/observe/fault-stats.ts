import { Gauge, type Registry } from 'prom-client';
import { CounterFamily, type CounterSeries, LabelSet } from './exposition.js';
import { LabelCap } from './labels.js';

/** Fault accounting for the chaos path (SPEC section 6, Envoy's fault stats). */
export interface FaultStats {
  injected(agent: string, tool: string, experiment: string, fault: string): void;
  skipped(experiment: string, fault: string, reason: string): void;
  overflow(experiment: string, fault: string): void;
  readonly active: { inc(): void; dec(): void };
  /** How many injected faults are in flight now (for max_active_faults). */
  activeCount(): number;
}

/**
 * The fault counters (SPEC section 6) in plain numbers, like the exchange families: an injected
 * fault looks its series up in nested maps keyed by the (capped) label values, which allocates
 * nothing once the series exists, and adds 1. prom-client's `labels(...).inc()` hashed the four
 * labels into a string on every call (~3 µs per injected fault). Same names, labels, label
 * order, HELP and TYPE as before; a series appears at its first increment.
 */

/** A tree of maps, one level per label, ending in the series. */
type Tree = Map<string, Tree | CounterSeries>;

class KeyedCounters {
  private readonly root: Tree = new Map();
  private readonly family: CounterFamily;

  constructor(
    registry: Registry,
    name: string,
    help: string,
    private readonly labelNames: readonly string[],
  ) {
    this.family = new CounterFamily(name, help).register(registry);
  }

  /** The series for `values` (in `labelNames` order), created on first use. */
  series(...values: string[]): CounterSeries {
    let node = this.root;
    const last = values.length - 1;
    for (let i = 0; i < last; i++) {
      let next = node.get(values[i]!) as Tree | undefined;
      if (!next) {
        next = new Map();
        node.set(values[i]!, next);
      }
      node = next;
    }
    let s = node.get(values[last]!) as CounterSeries | undefined;
    if (!s) {
      const labels: Record<string, string> = {};
      for (let i = 0; i < values.length; i++) labels[this.labelNames[i]!] = values[i]!;
      s = this.family.add(new LabelSet(labels));
      node.set(values[last]!, s);
    }
    return s;
  }
}

export function createFaultStats(
  registry: Registry,
  agents: LabelCap,
  tools: LabelCap,
  maxLabelValues: number,
): FaultStats {
  const injected = new KeyedCounters(
    registry,
    'faultgate_faults_injected_total',
    'Faults injected, by agent, tool, experiment and fault type',
    ['agent', 'tool', 'experiment', 'fault'],
  );
  const skipped = new KeyedCounters(
    registry,
    'faultgate_faults_skipped_total',
    'Fired faults that passed a body through untouched (too large for max_body_bytes, undecodable encoding)',
    ['experiment', 'fault', 'reason'],
  );
  const overflow = new KeyedCounters(
    registry,
    'faultgate_faults_overflow_total',
    'Faults not injected because safety.max_active_faults were already in flight',
    ['experiment', 'fault'],
  );
  let count = 0;
  // prom-client still renders the gauge (no labels), but reads the count only when scraped.
  new Gauge({
    name: 'faultgate_active_faults',
    help: 'Requests with injected faults in flight',
    registers: [registry],
    collect() {
      this.set(count);
    },
  });
  const experiments = new LabelCap(maxLabelValues);
  return {
    injected: (agent, tool, experiment, fault) =>
      injected.series(agents.get(agent), tools.get(tool), experiments.get(experiment), fault).inc(),
    skipped: (experiment, fault, reason) => skipped.series(experiments.get(experiment), fault, reason).inc(),
    overflow: (experiment, fault) => overflow.series(experiments.get(experiment), fault).inc(),
    active: {
      inc: () => {
        count++;
      },
      dec: () => {
        count--;
      },
    },
    activeCount: () => count,
  };
}
