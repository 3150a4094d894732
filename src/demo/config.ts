/**
 * The demo's faultgate config: one reverse listener in front of the mocks, agents named by
 * header, four tools and the chaos the two agents meet. Tight SLOs make the difference between
 * retrying at once and waiting for the next task visible in seconds rather than minutes: the
 * agents start a task every second, the resilient one's retries all end well inside 0.6 s
 * (at most 3 waits of 65..90 ms), and the naive one's next call to a tool comes ~1 s later, so the
 * recovery window lands between the two with a wide margin either side.
 */
import { parseConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';

export function demoYaml(upstream: string, seed: number): string {
  return `version: 1
listeners:
  - { name: demo, listen: "127.0.0.1:0", upstream: "${upstream}" }
admin: { listen: "127.0.0.1:0" }
agents: { from: [header:x-agent-id], default: unknown }
tools:
  - { name: llm, match: { path: /v1/chat/completions, methods: [POST] }, format: openai }
  - { name: weather, match: { path: /mcp, mcp_tool: get_weather }, format: mcp }
  - { name: search, match: { path: /search }, format: json }
  - { name: search-backup, match: { path: /search2 }, format: json, fallback_for: [search] }
chaos: { level: 1, seed: ${seed} }
experiments:
  - { name: search-outage, type: error, probability: 0.3, target: { tools: [search] }, config: { status: [502, 503] } }
  - { name: llm-rate-limit, type: rate_limit, probability: 0.12, target: { tools: [llm] }, config: { retry_after_s: 0.05 } }
  - { name: llm-cut-stream, type: sse, probability: 0.3, target: { tools: [llm] }, config: { action: truncate, after_events: 3 } }
  - { name: weather-slow, type: latency, probability: 0.3, target: { tools: [weather] }, config: { pattern: fixed, min_ms: 40, max_ms: 40 } }
  - { name: weather-down, type: error, probability: 0.15, target: { tools: [weather] }, config: { status: 503 } }
slos: { availability: 0.99, latency_p99_ms: 1000, mttr_s: 0.3, recovery_window_s: 0.6 }
log: { level: warn }
`;
}

export function demoConfig(upstream: string, seed: number): Config {
  const r = parseConfig('(demo)', demoYaml(upstream, seed), {});
  if (!r.ok) throw new Error(`demo config: ${r.problems.map((p) => `${p.path} ${p.message}`).join('; ')}`);
  return r.config;
}
