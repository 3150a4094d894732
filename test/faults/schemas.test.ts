import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { type FaultType, faultAliases, faultTypes } from '../../src/faults/registry.js';

/**
 * Every fault type's `config`, valid and invalid, through the whole config parse so the
 * reported path and line are what `faultgate validate` prints. The experiment's config is
 * written on line 8 as a flow mapping (JSON is valid YAML).
 */
const FILE = 'faults.yaml';
const CONFIG_LINE = 8;

function experimentYaml(type: string, config: unknown): string {
  return [
    'version: 1',
    'listeners:',
    '  - name: main',
    '    listen: 127.0.0.1:0',
    'experiments:',
    '  - name: exp',
    `    type: ${type}`,
    `    config: ${JSON.stringify(config)}`,
    '',
  ].join('\n');
}

interface Valid {
  config: Record<string, unknown>;
  /** A subset of the parsed config (defaults filled in). */
  parsed: Record<string, unknown>;
}

interface Invalid {
  config: Record<string, unknown>;
  /** The path after `experiments[0].config` (empty for a rule on the whole config). */
  path: string;
  message?: RegExp;
}

interface Case {
  valid: Valid[];
  invalid: Invalid[];
}

const cases: Record<FaultType, Case> = {
  latency: {
    valid: [
      {
        config: { min_ms: 100, max_ms: 200 },
        parsed: { pattern: 'uniform', phase: 'request', min_ms: 100, max_ms: 200 },
      },
      { config: { profile: 'poor' }, parsed: { profile: 'poor', spike_multiplier: 10 } },
      {
        config: { min_ms: 0, pattern: 'spike', phase: 'chunk' },
        parsed: { pattern: 'spike', phase: 'chunk' },
      },
    ],
    invalid: [
      { config: {}, path: '', message: /needs min_ms/ },
      { config: { min_ms: 5, max_ms: 1 }, path: '.max_ms', message: /min_ms must be <= max_ms/ },
      { config: { min_ms: 1, pattern: 'square' }, path: '.pattern' },
      { config: { min_ms: -1 }, path: '.min_ms', message: />=0/ },
      { config: { min_ms: 1.5 }, path: '.min_ms', message: /expected int/ },
    ],
  },
  error: {
    valid: [
      { config: {}, parsed: { status: [500, 502, 503, 504] } },
      {
        config: { status: 503, format: 'openai', body: { error: 'x' }, headers: { 'retry-after': '1' } },
        parsed: { status: 503, format: 'openai', headers: { 'retry-after': '1' } },
      },
      { config: { status: [429], should_retry: true }, parsed: { status: [429], should_retry: true } },
    ],
    invalid: [
      { config: { status: 700 }, path: '.status', message: /<=599/ },
      { config: { status: [500, 'x'] }, path: '.status[1]', message: /expected number/ },
      { config: { format: 'xml' }, path: '.format' },
      { config: { headers: { 'x-a': 1 } }, path: '.headers.x-a', message: /expected string/ },
    ],
  },
  rate_limit: {
    valid: [
      { config: {}, parsed: { status: 429, retry_after_s: 1 } },
      {
        config: { retry_after_s: [1, 5], quota: { requests: 10 } },
        parsed: { retry_after_s: [1, 5], quota: { requests: 10, window_s: 60, per: 'agent' } },
      },
    ],
    invalid: [
      { config: { retry_after_s: [5, 1] }, path: '.retry_after_s', message: /min <= max/ },
      { config: { quota: {} }, path: '.quota', message: /requests or tokens/ },
      { config: { quota: { requests: 1, per: 'user' } }, path: '.quota.per' },
      { config: { status: '429' }, path: '.status', message: /expected number/ },
    ],
  },
  auth: {
    valid: [
      { config: {}, parsed: { status: 401 } },
      { config: { status: 403, format: 'anthropic' }, parsed: { status: 403, format: 'anthropic' } },
    ],
    invalid: [{ config: { status: 500 }, path: '.status', message: /^expected one of 401, 403$/ }],
  },
  timeout: {
    valid: [
      { config: {}, parsed: { after_ms: 30_000, then: 504 } },
      { config: { then: '504' }, parsed: { then: 504 } },
      { config: { after_ms: 0, then: 'hang' }, parsed: { after_ms: 0, then: 'hang' } },
    ],
    invalid: [
      { config: { then: 503 }, path: '.then', message: /expected one of 504, "504", "close", "hang"/ },
      { config: { after_ms: -5 }, path: '.after_ms' },
    ],
  },
  reset: {
    valid: [
      { config: {}, parsed: { phase: 'before_response', after_bytes: 0 } },
      { config: { phase: 'mid_body', after_bytes: 1024 }, parsed: { phase: 'mid_body', after_bytes: 1024 } },
    ],
    invalid: [{ config: { phase: 'later' }, path: '.phase' }],
  },
  close: {
    valid: [{ config: {}, parsed: {} }],
    invalid: [{ config: { after_ms: 5 }, path: '.after_ms', message: /^unknown key$/ }],
  },
  truncate: {
    valid: [
      { config: {}, parsed: { mode: 'abort' } },
      { config: { fraction: 0.5, mode: 'clean' }, parsed: { fraction: 0.5, mode: 'clean' } },
    ],
    invalid: [
      { config: { after_bytes: 10, fraction: 0.5 }, path: '', message: /not both/ },
      { config: { fraction: 2 }, path: '.fraction' },
    ],
  },
  malformed: {
    valid: [
      { config: {}, parsed: { kind: 'json_syntax' } },
      { config: { kind: 'garbage' }, parsed: { kind: 'garbage' } },
    ],
    invalid: [{ config: { kind: 'xml' }, path: '.kind' }],
  },
  empty: {
    valid: [
      { config: {}, parsed: { status: 200 } },
      { config: { status: 204 }, parsed: { status: 204 } },
    ],
    invalid: [{ config: { status: 42 }, path: '.status', message: />=200/ }],
  },
  bandwidth: {
    valid: [{ config: { bytes_per_s: 1024 }, parsed: { bytes_per_s: 1024 } }],
    invalid: [
      { config: {}, path: '.bytes_per_s', message: /expected number/ },
      { config: { bytes_per_s: 0 }, path: '.bytes_per_s', message: />=1/ },
    ],
  },
  sse: {
    valid: [
      {
        config: { action: 'drop' },
        parsed: { action: 'drop', after_events: 0, event_probability: 1, delay_ms: 1000 },
      },
      { config: { action: 'stall', after_events: 3 }, parsed: { action: 'stall', after_events: 3 } },
    ],
    invalid: [
      { config: {}, path: '.action' },
      { config: { action: 'drop', event_probability: 1.5 }, path: '.event_probability', message: /<=1/ },
    ],
  },
  hallucination: {
    valid: [
      { config: {}, parsed: { types: ['wrong_value'], severity: 0.3 } },
      { config: { types: ['outdated', 'contradiction'] }, parsed: { types: ['outdated', 'contradiction'] } },
    ],
    invalid: [
      { config: { types: ['lies'] }, path: '.types[0]' },
      { config: { types: [] }, path: '.types', message: />=1/ },
    ],
  },
  context_corruption: {
    valid: [
      { config: {}, parsed: { types: ['truncate'], severity: 0.3 } },
      { config: { types: ['noise'], severity: 1 }, parsed: { types: ['noise'], severity: 1 } },
    ],
    invalid: [
      { config: { severity: 2 }, path: '.severity', message: /<=1/ },
      { config: { types: ['shuffle'] }, path: '.types[0]' },
    ],
  },
  context_truncation: {
    valid: [
      { config: { max_chars: 100 }, parsed: { max_chars: 100 } },
      { config: { fraction: 0.5, paths: ['$.messages'] }, parsed: { fraction: 0.5, paths: ['$.messages'] } },
    ],
    invalid: [
      { config: {}, path: '', message: /exactly one of max_chars or fraction/ },
      { config: { max_chars: 1, fraction: 0.5 }, path: '', message: /exactly one/ },
    ],
  },
  uncooperative: {
    valid: [
      { config: {}, parsed: { mode: 'refuse', stall_ms: 30_000 } },
      { config: { mode: 'partial', message: 'no' }, parsed: { mode: 'partial', message: 'no' } },
    ],
    invalid: [{ config: { mode: 'sulk' }, path: '.mode' }],
  },
  budget: {
    valid: [
      { config: { calls: 10 }, parsed: { calls: 10, window_s: 3600, per: 'agent' } },
      {
        config: { cost_usd: 1, prices: { '*': { input: 1, output: 2 } }, per: 'tenant' },
        parsed: { cost_usd: 1, per: 'tenant' },
      },
    ],
    invalid: [
      { config: {}, path: '', message: /calls, tokens or cost_usd/ },
      { config: { cost_usd: 1 }, path: '.prices', message: /cost_usd needs prices/ },
      { config: { calls: 1, prices: { '*': { input: -1, output: 0 } } }, path: '.prices.*.input' },
    ],
  },
  replace: {
    valid: [
      { config: { status: 200 }, parsed: { status: 200 } },
      { config: { body: [1, 2] }, parsed: { body: [1, 2] } },
    ],
    invalid: [
      { config: {}, path: '', message: /status, headers or body/ },
      { config: { status: 'ok' }, path: '.status', message: /expected number/ },
    ],
  },
  patch: {
    valid: [{ config: { patch: { a: 1, b: null } }, parsed: { patch: { a: 1, b: null } } }],
    invalid: [
      { config: {}, path: '.patch', message: /expected record/ },
      { config: { patch: {}, status: 1000 }, path: '.status', message: /<=599/ },
    ],
  },
};

describe('fault config schemas, through the whole config parse', () => {
  it('covers every fault type in the registry', () => {
    expect(Object.keys(cases).sort()).toEqual([...faultTypes].sort());
  });

  const valid = Object.entries(cases).flatMap(([type, c]) =>
    c.valid.map((v) => [type, JSON.stringify(v.config), v] as const),
  );
  it.each(valid)('%s accepts %s', (type, _, { config, parsed }) => {
    const result = parseConfig(FILE, experimentYaml(type, config), {});
    if (!result.ok) expect.fail(JSON.stringify(result.problems));
    const [exp] = result.config.experiments;
    expect(exp!.type).toBe(type);
    expect(exp!.config).toMatchObject(parsed);
  });

  const invalid = Object.entries(cases).flatMap(([type, c]) =>
    c.invalid.map((v) => [type, JSON.stringify(v.config), v] as const),
  );
  it.each(invalid)('%s rejects %s', (type, _, { config, path, message }) => {
    const result = parseConfig(FILE, experimentYaml(type, config), {});
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.problems).toHaveLength(1);
    const [problem] = result.problems;
    expect(problem).toMatchObject({ file: FILE, line: CONFIG_LINE, path: `experiments[0].config${path}` });
    if (message) expect(problem!.message).toMatch(message);
  });

  it.each(faultTypes)('%s rejects an unknown key', (type) => {
    const config = { ...cases[type].valid[0]!.config, zzz: 1 };
    const line = `    config: ${JSON.stringify(config)}`;
    const result = parseConfig(FILE, experimentYaml(type, config), {});
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.problems).toContainEqual({
      file: FILE,
      line: CONFIG_LINE,
      col: line.indexOf('"zzz"') + 1,
      path: 'experiments[0].config.zzz',
      message: 'unknown key',
    });
  });

  it('reports the column of the offending value', () => {
    const line = `    config: ${JSON.stringify({ min_ms: 5, max_ms: 1 })}`;
    const result = parseConfig(FILE, experimentYaml('latency', { min_ms: 5, max_ms: 1 }), {});
    expect(!result.ok && result.problems[0]).toMatchObject({
      line: CONFIG_LINE,
      col: line.lastIndexOf('1') + 1,
    });
  });

  it.each(Object.entries(faultAliases))('alias %s resolves to %o', (alias, { type, defaults }) => {
    const result = parseConfig(FILE, experimentYaml(alias, {}), {});
    if (!result.ok) expect.fail(JSON.stringify(result.problems));
    expect(result.config.experiments[0]).toMatchObject({ type, alias, config: defaults });
  });
});
