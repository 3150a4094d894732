import { stringify } from 'yaml';

/**
 * The soak's faultgate config: one listener in reverse and forward mode, four tools, and one
 * experiment per fault type of SPEC section 4 at 10%. `generation` changes with each reload
 * (a different seed), so every reload really swaps the compiled state.
 */

type Json = Record<string, unknown>;

const x = (type: string, tools: string[], config: Json = {}): Json => ({
  name: `${type.replace(/_/g, '-')}-${tools[0]}`,
  type,
  probability: 0.1,
  target: { tools },
  config,
});

export function soakConfigYaml(upstream: string, generation: number): string {
  const json = ['json-tool'];
  const llm = ['llm'];
  const mcp = ['mcp-weather'];
  return stringify({
    version: 1,
    listeners: [{ name: 'main', listen: '127.0.0.1:0', upstream, forward: true, allow_hosts: ['127.0.0.1'] }],
    admin: { listen: '127.0.0.1:0' },
    chaos: { level: 1, seed: 1000 + generation },
    // Idle keep-alive clients stay connected through the flood's measurement.
    limits: { keep_alive_timeout_ms: 30_000 },
    // Counting, not stopping: a soak injects far more than the default safety limits allow.
    safety: { max_affected_requests: 0, auto_abort_on_cascade: false },
    tools: [
      { name: 'json-tool', match: { path: '/tool/**' } },
      { name: 'llm', match: { path: '/v1/**', methods: ['POST'] }, format: 'openai' },
      { name: 'mcp-weather', match: { path: '/mcp', mcp_tool: 'get_weather' }, format: 'mcp' },
      { name: 'mcp-other', match: { path: '/mcp' }, format: 'mcp' },
    ],
    experiments: [
      x('latency', json, { pattern: 'uniform', min_ms: 5, max_ms: 30 }),
      x('error', json, { status: [500, 503] }),
      x('rate_limit', llm, { retry_after_s: 1 }),
      x('auth', json, { status: 401 }),
      // biome-ignore lint/suspicious/noThenProperty: `then` is the timeout fault's SPEC key
      x('timeout', mcp, { after_ms: 200, then: 504 }),
      x('reset', json, { phase: 'before_response' }),
      x('close', mcp),
      x('truncate', json, { fraction: 0.5 }),
      x('malformed', mcp, { kind: 'json_syntax' }),
      x('empty', json),
      x('bandwidth', json, { bytes_per_s: 1_000_000 }),
      x('sse', llm, { action: 'truncate', after_events: 3 }),
      x('hallucination', json, { types: ['wrong_value'] }),
      x('context_corruption', mcp, { types: ['noise'] }),
      x('context_truncation', llm, { fraction: 0.5 }),
      x('uncooperative', llm, { mode: 'refuse' }),
      x('budget', llm, { calls: 1_000_000_000, window_s: 3600 }),
      x('replace', json, { status: 200, body: { replaced: true } }),
      x('patch', json, { patch: { result: { patched: true } } }),
    ],
    // info: the startup lines name the bound ports, and every injected fault is logged, as in use.
    log: { level: 'info' },
  });
}
