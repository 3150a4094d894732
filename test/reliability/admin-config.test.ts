import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SeededRng } from '../../src/chaos/rng.js';
import { loadConfigFile } from '../../src/config/load.js';
import { scrape, startFaultgate, startUpstream } from '../helpers/index.js';
import { type MatrixRow, writeMatrix } from '../helpers/matrix.js';
import { spawnFaultgate } from '../helpers/process.js';
import { metricSum } from '../helpers/wire.js';

const rows: MatrixRow[] = [];
afterAll(() => {
  if (rows.length > 0) writeMatrix('admin-config', 'Admin API and config robustness', rows);
});

const KEYS = [
  'name',
  'experiments',
  'targeting',
  'safety',
  'duration_s',
  'type',
  'config',
  'probability',
  'level',
  'agent_ids',
  'tool_names',
  'percentage',
  'max_affected_requests',
  'min_ms',
  'max_ms',
  'status',
  '__proto__',
  'constructor',
  'toString',
  'zz',
];
const LEAVES: unknown[] = [
  null,
  true,
  false,
  0,
  -1,
  0.5,
  1.5,
  1e308,
  -1e-308,
  '',
  'x',
  'latency',
  'error',
  '*',
  'running',
  'a'.repeat(3000),
  2 ** 53 + 1,
  [],
];

function randomJson(rng: SeededRng, depth: number): unknown {
  const r = rng.next();
  if (depth > 4 || r < 0.4) return rng.pick(LEAVES);
  if (r < 0.6) return Array.from({ length: rng.int(0, 4) }, () => randomJson(rng, depth + 1));
  const out: Record<string, unknown> = {};
  for (let n = rng.int(0, 5); n > 0; n--)
    Object.defineProperty(out, rng.pick(KEYS), {
      value: randomJson(rng, depth + 1),
      enumerable: true,
      configurable: true,
      writable: true,
    });
  return out;
}

/** A valid session body with one random leaf (or key) replaced. */
function mutatedSession(rng: SeededRng): unknown {
  const body: Record<string, unknown> = {
    name: `s${rng.int(0, 1e6)}`,
    experiments: [{ name: 'e', type: 'latency', probability: 0.5, config: { min_ms: 1, max_ms: 2 } }],
    targeting: { agent_ids: ['a'], percentage: 1 },
    safety: { max_affected_requests: 10 },
    duration_s: 60,
  };
  const exp = (body.experiments as Record<string, unknown>[])[0]!;
  const spots: [Record<string, unknown>, string][] = [
    [body, 'name'],
    [body, 'experiments'],
    [body, 'targeting'],
    [body, 'safety'],
    [body, 'duration_s'],
    [body, rng.pick(KEYS)],
    [exp, 'type'],
    [exp, 'probability'],
    [exp, 'config'],
    [exp.config as Record<string, unknown>, rng.pick(['min_ms', 'max_ms', 'pattern', 'zz'])],
  ];
  for (let n = rng.int(1, 3); n > 0; n--) {
    const [obj, key] = rng.pick(spots);
    obj[key] = randomJson(rng, 2);
  }
  return body;
}

const RAW_BODIES = [
  '{',
  '[1,',
  '\u0000',
  'nul',
  '"',
  `${'['.repeat(3000)}${']'.repeat(3000)}`,
  '{"a":1}{"b":2}',
  '\uFEFF{}',
  '{"level": 1e999}',
  '',
];

describe('admin API robustness', () => {
  it('random JSON bodies on every admin endpoint: never a 5xx, errors coded, validation lists its problems', async () => {
    const fg = await startFaultgate(
      `version: 1\nlisteners: [{ name: main, listen: "127.0.0.1:0" }]\nadmin: { listen: "127.0.0.1:0" }\nlog: { level: warn }\n`,
    );
    const rng = new SeededRng(1414);
    const ids = ['default', 'nope', '%00', '..%2F..', 'a'.repeat(500)];
    const statuses = new Map<number, number>();
    const problems: string[] = [];
    const N = 400;
    for (let i = 0; i < N; i++) {
      const id = encodeURIComponent(rng.pick(ids)).replace('%25', '%');
      const [method, path] = rng.pick([
        ['POST', '/api/v1/chaos/sessions'],
        ['POST', '/api/v1/chaos/sessions'],
        ['PUT', '/api/v1/chaos/level'],
        ['POST', `/api/v1/chaos/sessions/${id}/start`],
        ['POST', `/api/v1/chaos/sessions/${id}/stop`],
        ['POST', `/api/v1/chaos/sessions/${id}/abort`],
        ['DELETE', `/api/v1/chaos/sessions/${id}`],
        ['GET', `/api/v1/chaos/sessions/${id}`],
        ['POST', '/api/v1/chaos/abort-all'],
        ['POST', '/api/v1/chaos/resume'],
        ['POST', '/api/v1/reload'],
        ['GET', `/api/v1/report?format=${rng.pick(['json', 'html', 'x', '', '%00'])}`],
        ['PATCH', '/api/v1/chaos/level'],
      ] as const);
      const r = rng.next();
      const body =
        method === 'GET' || method === 'DELETE'
          ? undefined
          : r < 0.15
            ? rng.pick(RAW_BODIES)
            : JSON.stringify(
                r < 0.6
                  ? mutatedSession(rng)
                  : path.endsWith('level') && r < 0.8
                    ? { level: randomJson(rng, 3) }
                    : randomJson(rng, 0),
              );
      const res = await fetch(`${fg.adminUrl}${path}`, { method, ...(body !== undefined ? { body } : {}) });
      const text = await res.text();
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      // Created sessions take part in the later state transitions.
      if (res.status === 201) ids.push((JSON.parse(text) as { id: string }).id);
      const where = `#${i} ${method} ${path} ${body?.slice(0, 120)} -> ${res.status} ${text.slice(0, 200)}`;
      if (res.status >= 500) problems.push(where);
      else if (res.status >= 400) {
        const err = (
          JSON.parse(text) as { error?: { code?: string; problems?: { path: string; message: string }[] } }
        ).error;
        if (!err?.code?.startsWith('FAULTGATE_ERR_')) problems.push(`uncoded: ${where}`);
        for (const p of err?.problems ?? [])
          if (typeof p.path !== 'string' || typeof p.message !== 'string' || p.message === '')
            problems.push(`bad problem: ${where}`);
      }
    }
    expect(problems).toEqual([]);
    expect((await fetch(`${fg.adminUrl}/healthz`)).status).toBe(200);
    expect((await fetch(`${fg.adminUrl}/api/v1/chaos/sessions`)).status).toBe(200);
    const observed = [...statuses]
      .sort((a, b) => a[0] - b[0])
      .map(([s, n]) => `${s} ×${n}`)
      .join(', ');
    rows.push({
      case: `${N} random JSON bodies (seeded) on every /api/v1 route`,
      required: 'never 5xx; errors coded; validation problems listed with paths',
      observed,
      ok: true,
    });
  });

  it('a body with several problems gets every one of them listed', async () => {
    const fg = await startFaultgate(
      `version: 1\nlisteners: [{ name: main, listen: "127.0.0.1:0" }]\nadmin: { listen: "127.0.0.1:0" }\n`,
    );
    const res = await fetch(`${fg.adminUrl}/api/v1/chaos/sessions`, {
      method: 'POST',
      body: JSON.stringify({
        name: 'x',
        experiments: [
          { name: 'e', type: 'latency', config: { min_ms: 5, max_ms: 1 } },
          { name: 'f', type: 'nope' },
        ],
        targeting: { percentage: 2 },
        bogus: 1,
      }),
    });
    expect(res.status).toBe(400);
    const { error } = (await res.json()) as { error: { problems: { path: string }[] } };
    const paths = error.problems.map((p) => p.path);
    expect(paths).toEqual(expect.arrayContaining(['experiments[1].type', 'targeting.percentage', 'bogus']));
    expect(paths.some((p) => p.startsWith('experiments[0].config'))).toBe(true);
  });
});

// --- config files ---------------------------------------------------------------------------

const SAMPLES = [
  'proxy.example.yaml',
  'config/samples/forward-mcp.yaml',
  'config/samples/reverse-openai.yaml',
  'config/samples/sse-streams.yaml',
];
/** Each parse of a sample takes ~10-40 ms: 150 keep this under ~10 s on a loaded machine. */
const MUTATIONS = 150;
const TOKENS = [
  '-1',
  '""',
  'null',
  '1e309',
  '[]',
  '{}',
  // biome-ignore lint/suspicious/noTemplateCurlyInString: an unset ${VAR} is one of the mutations
  '${UNSET_VAR}',
  '*nope',
  '&a x',
  '!!binary x',
  '\t',
  'yes',
  '0x10',
  '"\\u0000"',
  '~',
  '{a: [}',
  '- - -',
  ': :',
];

function mutateYaml(rng: SeededRng, text: string): string {
  const lines = text.split('\n');
  for (let n = rng.int(1, 3); n > 0; n--) {
    const i = rng.int(0, lines.length - 1);
    const line = lines[i]!;
    switch (rng.int(0, 6)) {
      case 0:
        lines.splice(i, 1);
        break;
      case 1:
        lines.splice(i, 0, line);
        break;
      case 2:
        lines[i] = rng.next() < 0.5 ? `  ${line}` : line.replace(/^ {1,2}/, '');
        break;
      case 3:
        lines[i] = line.replace(/:\s+\S.*$/, `: ${rng.pick(TOKENS)}`);
        break;
      case 4:
        lines[i] = line.replace(/^(\s*)[a-z_]+:/, '$1zz_unknown:');
        break;
      case 5:
        lines[i] = `${line.slice(0, rng.int(0, line.length))}${rng.pick(TOKENS)}`;
        break;
      default:
        return lines.join('\n').slice(0, rng.int(0, text.length));
    }
  }
  return lines.join('\n');
}

function validateCli(file: string): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['dist/src/cli.js', 'validate', '-c', file],
      { timeout: 15_000 },
      (err, stdout, stderr) =>
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, out: stdout, err: stderr }),
    );
  });
}

describe('config robustness', () => {
  it('random YAML mutations of the samples: every problem located at FILE:LINE:COL, never a stack trace', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'faultgate-yaml-'));
    const rng = new SeededRng(2026);
    let valid = 0;
    let invalid = 0;
    const spawned: Promise<void>[] = [];
    const bad: string[] = [];
    for (let i = 0; i < MUTATIONS; i++) {
      const sample = rng.pick(SAMPLES);
      const file = join(dir, `m${i}.yaml`);
      const text = mutateYaml(rng, readFileSync(sample, 'utf8'));
      writeFileSync(file, text);
      let result: ReturnType<typeof loadConfigFile>;
      try {
        result = loadConfigFile(file, {});
      } catch (err) {
        bad.push(`#${i} ${sample}: threw ${(err as Error).stack}`);
        continue;
      }
      if (result.ok) valid++;
      else {
        invalid++;
        for (const p of result.problems)
          if (!(p.line >= 1 && p.col >= 1 && p.message)) bad.push(`#${i} ${sample}: ${JSON.stringify(p)}`);
      }
      // The CLI as users run it, on a sample of the mutations (a process each).
      if (i % 25 === 0)
        spawned.push(
          validateCli(file).then(({ code, out, err }) => {
            const text = out + err;
            if (code !== 0 && code !== 2) bad.push(`#${i} exit ${code}: ${text}`);
            if (/\n\s+at /.test(text)) bad.push(`#${i} stack trace: ${text}`);
            if (
              code === 2 &&
              !text.split('\n').some((l) => l.startsWith(`${file}:`) && /^[^:]+:\d+:\d+ /.test(l))
            )
              bad.push(`#${i} no FILE:LINE:COL: ${text}`);
          }),
        );
    }
    await Promise.all(spawned);
    expect(bad).toEqual([]);
    expect(invalid).toBeGreaterThan(MUTATIONS / 3);
    rows.push({
      case: `${MUTATIONS} random YAML mutations of the 4 sample configs (seeded), ${spawned.length} through the CLI`,
      required: 'exit 0, or 2 with every problem at FILE:LINE:COL; never a stack trace',
      observed: `${valid} valid, ${invalid} rejected with located problems; CLI exits 0/2, no stack`,
      ok: true,
    });
  }, 60_000);

  it('a reload of valid YAML with broken semantics under load is rejected; the old config keeps serving', async () => {
    const up = await startUpstream((req, res) => res.end(`old:${req.url}`));
    const good = `version: 1
listeners: [{ name: main, listen: "127.0.0.1:0", upstream: "${up.url}" }]
admin: { listen: "127.0.0.1:0" }
log: { level: info }
`;
    const fg = await spawnFaultgate(good);
    const broken = `version: 1
listeners: [{ name: main, listen: "127.0.0.1:0", upstream: "http://127.0.0.1:1" }]
admin: { listen: "127.0.0.1:0" }
tools: [{ name: t, match: { path: "/x" } }, { name: t, match: { path: "/y" } }]
experiments: [{ name: e, type: latency, config: { min_ms: 10, max_ms: 1 }, target: { tools: [missing] } }]
`;
    let stop = false;
    let served = 0;
    const wrong: string[] = [];
    const load = Array.from({ length: 6 }, async (_, w) => {
      while (!stop) {
        const res = await fetch(`${fg.url}/w${w}`);
        const text = await res.text();
        if (res.status !== 200 || text !== `old:/w${w}`) wrong.push(`${res.status} ${text}`);
        served++;
      }
    });
    await new Promise((r) => setTimeout(r, 200));
    writeFileSync(fg.file, broken);
    const reload = await fetch(`${fg.adminUrl}/api/v1/reload`, { method: 'POST' });
    const body = (await reload.json()) as { error: { code: string; problems: unknown[] } };
    const before = served;
    while (served < before + 200) await new Promise((r) => setTimeout(r, 20));
    stop = true;
    await Promise.all(load);
    expect(reload.status).toBe(400);
    expect(body.error.code).toBe('FAULTGATE_ERR_CONFIG');
    expect(body.error.problems.length).toBeGreaterThanOrEqual(2);
    expect(wrong).toEqual([]);
    const m = await scrape(fg.adminUrl);
    expect(metricSum(m, 'faultgate_config_reloads_total', { result: 'rejected' })).toBeGreaterThanOrEqual(1);
    expect(metricSum(m, 'faultgate_config_reloads_total', { result: 'ok' })).toBe(0);
    rows.push({
      case: 'POST /api/v1/reload of valid YAML with duplicate tools, min > max and an unknown target, under 6 concurrent clients',
      required: 'reload rejected with every problem; the old config keeps serving every request',
      observed: `400 FAULTGATE_ERR_CONFIG with ${body.error.problems.length} problems; ${served} requests, all answered by the old config`,
      ok: true,
    });
  });
});
