import { ChaosEngine } from '../src/chaos/engine.js';
import { parseConfig } from '../src/config/load.js';
import type { MicroCase } from './micro.js';

const types = [
  '{ type: error, config: { status: [500, 503] } }',
  '{ type: latency, config: { pattern: uniform, min_ms: 10, max_ms: 50 } }',
  '{ type: rate_limit, config: { retry_after_s: [1, 3] } }',
  '{ type: truncate, config: { fraction: 0.5 } }',
  '{ type: sse, config: { action: drop, event_probability: 0.2 } }',
];

/** 20 experiments over 10 tools with agent globs: the decision step of issue 3's benchmark. */
function engine(targetTool: (i: number) => string): ChaosEngine {
  const experiments = Array.from({ length: 20 }, (_, i) => {
    const t = types[i % types.length]!.slice(1, -1);
    return `  - { name: exp-${i}, probability: 0.05, target: { tools: [${targetTool(i)}], agents: ["agent-*", planner] }, ${t} }`;
  }).join('\n');
  const tools = Array.from(
    { length: 10 },
    (_, i) => `  - { name: tool-${i}, match: { path: "/t${i}/**" } }`,
  ).join('\n');
  const text = `version: 1
listeners: [{ name: main, listen: "127.0.0.1:0" }]
chaos: { level: 1, seed: 42 }
tools:
${tools}
experiments:
${experiments}
`;
  const r = parseConfig('bench.yaml', text, {});
  if (!r.ok) throw new Error(r.problems.map((p) => `${p.path} ${p.message}`).join('\n'));
  return new ChaosEngine(r.config);
}

export function decisionCases(): MicroCase[] {
  const targeted = engine(() => 'tool-3');
  const elsewhere = engine((i) => `tool-${i % 3}`);
  return [
    {
      name: 'decision: 20 experiments all targeting the request (level 1)',
      run: () => targeted.draw('planner', 'default', 'tool-3'),
      check: () => {
        let fired = 0;
        for (let i = 0; i < 2000; i++) if (targeted.draw('planner', 'default', 'tool-3')) fired++;
        // 20 experiments at 5%: P(any) = 1 - 0.95^20 ~ 64%.
        if (fired < 1100 || fired > 1450) throw new Error(`unexpected firing rate ${fired}/2000`);
      },
    },
    {
      name: 'decision: 20 experiments configured, none targeting the request',
      run: () => elsewhere.draw('planner', 'default', 'tool-9'),
      check: () => {
        if (elsewhere.draw('planner', 'default', 'tool-9') !== undefined)
          throw new Error('fired on an untargeted tool');
      },
      batch: 100,
    },
  ];
}
