import { stringify } from 'yaml';

/**
 * The faultgate configuration the end-to-end benchmarks run: 50 tools and 20 experiments, so
 * the numbers include matching and deciding against a realistic config, not an empty one.
 * The benchmark's own traffic matches the last tools (`bench-*`), so every request walks past
 * the 47 tools before them; several experiments target those tools, so the decision engine has
 * candidates to consider. At `chaos.level: 0` none of them fires.
 */

export interface BenchConfigOptions {
  listenPort: number;
  adminPort: number;
  upstream: string;
  /** 0 = chaos off (issue 2); issue 3 adds a level-1 column. */
  level?: number;
  /**
   * `idle` (default): the experiments target the bench's tools (none fire at level 0);
   * `armed`: level 1, every experiment targets tools the bench never calls (configured, nothing
   * fires); `faults10`: as armed plus one `error` experiment on the bench's tool at 10%;
   * `faults100`: the same experiment at 100% (every request answered by the fault).
   */
  mode?: 'idle' | 'armed' | 'faults10' | 'faults100';
  /** `tracking.enabled` (issue 4 measures its cost). */
  tracking?: boolean;
  /** `upstream.max_connections_per_origin`; 0 = no cap. */
  maxConnections?: number;
  logLevel?: string;
}

type Json = Record<string, unknown>;

function tools(upstream: string): Json[] {
  const out: Json[] = [];
  const dialects = ['openai', 'anthropic', 'gemini', 'json', 'text'];
  for (let i = 0; i < 10; i++) {
    out.push({
      name: `llm-${i}`,
      match: {
        host: i % 2 ? `api-${i}.example.com` : `api-${i}.example.com:443`,
        path: '/v1/**',
        methods: ['POST'],
      },
      format: dialects[i % dialects.length],
    });
  }
  for (let i = 0; i < 10; i++) {
    out.push({ name: `svc-${i}`, match: { host: `*.svc-${i}.internal`, methods: ['GET', 'POST'] } });
  }
  for (let i = 0; i < 10; i++) {
    out.push({ name: `path-${i}`, match: { path: i % 2 ? `/tools/t${i}/*/run` : `/api/v${i}/**` } });
  }
  for (let i = 0; i < 10; i++) {
    const headers = i % 2 ? { 'x-tool': `tool-${i}-*` } : { 'x-api': `v${i}*`, 'x-team': 'search' };
    out.push({ name: `hdr-${i}`, match: i < 5 ? { headers } : { path: '/rpc/**', headers } });
  }
  out.push({ name: 'weather', match: { path: '/mcp', mcp_tool: 'get_weather' }, format: 'mcp' });
  out.push({
    name: 'search',
    match: { host: 'search.internal', headers: { 'x-api': 'v2*' } },
    fallback_for: ['svc-0'],
  });
  for (let i = 0; i < 5; i++) {
    out.push({
      name: `misc-${i}`,
      match: { host: `*.misc-${i}.example.org`, path: `/m${i}/**`, methods: ['GET'] },
    });
  }
  // The benchmark's traffic: last, so every matcher above is tried first.
  out.push({ name: 'bench-echo', match: { path: '/echo/**', methods: ['POST'] }, upstream });
  out.push({ name: 'bench-llm', match: { path: '/sse' }, format: 'openai', upstream });
  out.push({ name: 'bench-bytes', match: { path: '/bytes/*', methods: ['GET', 'HEAD'] } });
  return out;
}

function experiment(type: string, name: string, tools: string[], config: Json, probability?: number): Json {
  return {
    name,
    type,
    ...(probability === undefined ? {} : { probability }),
    target: { tools, agents: ['*'], tenants: ['*'], percentage: 1 },
    config,
  };
}

/** 20 experiments: each of the 19 fault types of SPEC section 4 once, plus an alias. */
function experiments(): Json[] {
  const bytes = ['bench-bytes'];
  const llm = ['bench-llm'];
  const x = experiment;
  return [
    x('latency', 'bytes-latency', bytes, { pattern: 'uniform', min_ms: 50, max_ms: 200 }, 0.2),
    x('error', 'bytes-5xx', bytes, { status: [500, 502, 503] }, 0.05),
    x('truncate', 'bytes-truncate', bytes, { fraction: 0.5 }),
    x('bandwidth', 'bytes-slow', bytes, { bytes_per_s: 65536 }, 0.1),
    x('reset', 'bytes-reset', bytes, { phase: 'mid_body', after_bytes: 512 }, 0.01),
    x('patch', 'bytes-patch', bytes, { patch: { data: 'patched' } }, 0.01),
    x('sse', 'llm-truncate', llm, { action: 'truncate', after_events: 10 }, 0.1),
    x('close', 'llm-close', llm, {}, 0.01),
    x('rate_limit', 'llm-429', llm, { retry_after_s: [1, 5] }, 0.05),
    x('empty', 'svc-empty', ['svc-2'], {}),
    x('hallucination', 'svc-hallucinate', ['svc-*'], { types: ['wrong_value', 'fabricated_data'] }),
    x('context_corruption', 'path-corrupt', ['path-*'], { types: ['reorder', 'noise'] }, 0.1),
    x('context_truncation', 'llm-trunc-input', ['llm-*'], { fraction: 0.5 }),
    x('uncooperative', 'llm-refuse', ['llm-1', 'llm-3'], { mode: 'refuse' }, 0.05),
    x('budget', 'llm-budget', ['llm-*'], { calls: 1_000_000, window_s: 3600 }),
    x('auth', 'hdr-auth', ['hdr-*'], { status: 403 }, 0.02),
    // biome-ignore lint/suspicious/noThenProperty: `then` is the timeout fault's SPEC key
    x('timeout', 'weather-timeout', ['weather'], { after_ms: 2000, then: 504 }, 0.05),
    x('malformed', 'search-malformed', ['search'], { kind: 'json_syntax' }, 0.1),
    x('tool_unavailable', 'misc-down', ['misc-*'], {}, 0.1),
    x('replace', 'svc-replace', ['svc-1'], { status: 200, body: { ok: false } }, 0.01),
  ];
}

/** The same 20 experiments, aimed at tools the bench traffic never matches. */
function armed(): Json[] {
  return experiments().map((e) => ({ ...e, target: { ...(e.target as Json), tools: ['misc-0'] } }));
}

function experimentsFor(mode: BenchConfigOptions['mode']): Json[] {
  if (mode === 'armed') return armed();
  if (mode === 'faults10' || mode === 'faults100') {
    const probability = mode === 'faults10' ? 0.1 : 1;
    return [...armed(), experiment('error', 'bytes-503', ['bench-bytes'], { status: 503 }, probability)];
  }
  return experiments();
}

export function benchConfig(opts: BenchConfigOptions): Json {
  return {
    version: 1,
    listeners: [{ name: 'main', listen: `127.0.0.1:${opts.listenPort}`, upstream: opts.upstream }],
    admin: { listen: `127.0.0.1:${opts.adminPort}` },
    upstream: { max_connections_per_origin: opts.maxConnections ?? 0 },
    chaos: { level: opts.level ?? (opts.mode && opts.mode !== 'idle' ? 1 : 0), seed: 42 },
    // A bench injects far more than the default 1,000 faults of one session.
    safety: { max_affected_requests: 0 },
    tracking: { enabled: opts.tracking ?? true },
    agents: { from: ['header:x-agent-id', 'client_ip'], default: 'unknown' },
    tools: tools(opts.upstream),
    experiments: experimentsFor(opts.mode),
    log: { level: opts.logLevel ?? 'info' },
  };
}

/**
 * The config as YAML. Not checked here: importing faultgate's schema would tie the bench to a
 * buildable src/, and faultgate itself rejects a bad config at start with every problem listed
 * (the bench shows its output).
 */
export function benchConfigYaml(opts: BenchConfigOptions): string {
  return stringify(benchConfig(opts));
}
