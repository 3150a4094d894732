// biome-ignore-all lint/suspicious/noTemplateCurlyInString: the config syntax under test is ${VAR}, written in plain strings on purpose.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatProblem, loadConfigFile, parseConfig, substituteEnv } from '../../src/config/load.js';
import { BASE, FILE, parsed, problems, yaml } from './fixtures.js';

const msg = (text: string) => expect.stringContaining(text);

describe('problems are located at FILE:LINE:COL with a path', () => {
  it('reports unknown keys at their own line: top level, list item, nested block and flow mappings', () => {
    const text = yaml(
      ...BASE,
      '    bogus: true', // 5
      'tools:',
      '  - name: search',
      '    match:',
      '      host: search.internal',
      '      colour: blue', // 10
      '  - name: llm',
      '    match: { path: /v1, methd: POST }', // 12
      'extra: 1', // 13
    );
    expect(problems(text)).toEqual([
      [5, 5, 'listeners[0].bogus', 'unknown key'],
      [10, 7, 'tools[0].match.colour', 'unknown key'],
      [12, 25, 'tools[1].match.methd', 'unknown key'],
      [13, 1, 'extra', 'unknown key'],
    ]);
  });

  it('reports an unknown key inside an experiment config', () => {
    const text = yaml(...BASE, 'experiments:', '  - name: e', '    type: close', '    config: { after: 1 }');
    expect(problems(text)).toEqual([[8, 15, 'experiments[0].config.after', 'unknown key']]);
  });

  it('reports a wrong type at the value', () => {
    const text = yaml(...BASE, '    forward: "yes"', 'chaos: { level: high }');
    expect(problems(text)).toEqual([
      [5, 14, 'listeners[0].forward', msg('expected boolean')],
      [6, 17, 'chaos.level', msg('expected number')],
    ]);
  });

  it.each(['localhost', '127.0.0.1', '127.0.0.1:70000', ':8080', '::1:8080', 'http://127.0.0.1:8080'])(
    'rejects the listen address %s',
    (address) => {
      const text = yaml('version: 1', 'listeners:', '  - name: main', `    listen: "${address}"`);
      expect(problems(text)).toEqual([[4, 13, 'listeners[0].listen', msg('must be HOST:PORT')]]);
    },
  );

  it.each(['127.0.0.1:0', '0.0.0.0:8080', '[::1]:8080', 'localhost:65535'])('accepts %s', (address) => {
    const text = yaml('version: 1', 'listeners:', '  - name: main', `    listen: "${address}"`);
    expect(parsed(text).listeners[0]!.listen).toBe(address);
  });

  it('reports a missing required key at the item that lacks it', () => {
    const text = yaml('version: 1', 'listeners:', '  - name: main', '    forward: true');
    expect(problems(text)).toEqual([[3, 5, 'listeners[0].listen', msg('expected string')]]);
  });

  it('reports a bad experiment config under experiments[N].config', () => {
    const text = yaml(
      ...BASE,
      'experiments:',
      '  - name: slow',
      '    type: latency',
      '    config:',
      '      min_ms: 500',
      '      max_ms: 100', // 10
    );
    expect(problems(text)).toEqual([[10, 15, 'experiments[0].config.max_ms', 'min_ms must be <= max_ms']]);
  });

  it('reports an unknown fault type and lists the known ones, aliases included', () => {
    const text = yaml(...BASE, 'experiments:', '  - name: odd', '    type: gremlins');
    const [problem, ...rest] = problems(text);
    expect(rest).toEqual([]);
    expect(problem).toEqual([7, 11, 'experiments[0].type', msg('unknown fault type "gremlins"')]);
    expect(problem![3]).toContain('latency');
    expect(problem![3]).toContain('tool_unavailable');
  });

  it('reports tools referenced by fallback_for and target.tools that do not exist', () => {
    const text = yaml(
      ...BASE,
      'tools:',
      '  - name: search',
      '    fallback_for: [serach]', // 7
      '  - name: web',
      '    fallback_for: [web]', // 9
      'experiments:',
      '  - name: e',
      '    type: error',
      '    target:',
      '      tools: [search, "web*", unmatched, nope]', // 14
    );
    expect(problems(text)).toEqual([
      [7, 20, 'tools[0].fallback_for[0]', 'unknown tool "serach"'],
      [9, 20, 'tools[1].fallback_for[0]', 'a tool cannot be its own fallback'],
      [14, 42, 'experiments[0].target.tools[3]', 'unknown tool "nope"'],
    ]);
  });

  it('reports duplicate names at the second occurrence', () => {
    const text = yaml(
      ...BASE,
      '  - name: main', // 5
      '    listen: 127.0.0.1:1',
      'tools:',
      '  - name: a',
      '  - name: a', // 9
      'experiments:',
      '  - { name: x, type: close }',
      '  - { name: x, type: reset }', // 12
    );
    expect(problems(text)).toEqual([
      [5, 11, 'listeners[1].name', 'duplicate listener name "main"'],
      [9, 11, 'tools[1].name', 'duplicate tool name "a"'],
      [12, 13, 'experiments[1].name', 'duplicate experiment name "x"'],
    ]);
  });

  it('lists every problem at once, sorted by position, cross-field rules included', () => {
    const text = yaml(
      'version: 2',
      'listeners:',
      '  - name: main',
      '    listen: nope', // 4
      'tools:',
      '  - name: t',
      '  - name: t', // 7
      'slos: { availability: 1.5 }', // 8
    );
    expect(problems(text)).toEqual([
      [1, 10, 'version', msg('expected 1')],
      [4, 13, 'listeners[0].listen', msg('must be HOST:PORT')],
      [7, 11, 'tools[1].name', 'duplicate tool name "t"'],
      [8, 23, 'slos.availability', msg('<1')],
    ]);
  });

  it('reports every repeat of a name, and no reference problems when the tool list is unusable', () => {
    const text = yaml(
      ...BASE,
      'tools: { search: {} }', // 5
      'experiments:',
      '  - { name: x, type: close, target: { tools: [search] } }',
      '  - { name: x, type: close }', // 8
      '  - { name: x, type: close, when: now }', // 9
    );
    expect(problems(text)).toEqual([
      [5, 1, 'tools', msg('expected array')],
      [8, 13, 'experiments[1].name', 'duplicate experiment name "x"'],
      [9, 13, 'experiments[2].name', 'duplicate experiment name "x"'],
      [9, 29, 'experiments[2].when', 'unknown key'],
    ]);
  });

  it('names every allowed value of a union of literals', () => {
    const text = yaml(...BASE, 'experiments:', '  - { name: a, type: auth, config: { status: 500 } }');
    expect(problems(text)).toEqual([[6, 46, 'experiments[0].config.status', 'expected one of 401, 403']]);
  });

  it('reports a bad list element at the element, not at the list', () => {
    const text = yaml(
      ...BASE,
      'experiments:',
      '  - name: e',
      '    type: error',
      '    config: { status: [500, 999] }',
    );
    expect(problems(text)).toEqual([[8, 29, 'experiments[0].config.status[1]', msg('<=599')]]);
  });

  it('rejects an empty file with the required keys', () => {
    expect(problems('')).toEqual([
      [1, 1, 'version', msg('expected 1')],
      [1, 1, 'listeners', msg('expected array')],
    ]);
  });
});

describe('YAML syntax errors', () => {
  it('reports tab indentation at its line and stops before schema checks', () => {
    const text = yaml(...BASE, '\tforward: true', 'bogus: 1');
    expect(problems(text)).toEqual([[5, 1, '(yaml)', msg('Tabs are not allowed')]]);
  });

  it('reports a duplicate key at the second one', () => {
    const text = yaml(...BASE, 'log: { level: info }', 'log: { level: warn }');
    expect(problems(text)).toEqual([[6, 1, '(yaml)', msg('Map keys must be unique')]]);
  });

  it('reports an unterminated flow collection', () => {
    const [first] = problems(yaml('version: 1', 'listeners: [{ name: a, listen: "127.0.0.1:0" }', 'log: {}'));
    expect(first?.[2]).toBe('(yaml)');
    expect(first?.[0]).toBeGreaterThanOrEqual(2);
  });
});

describe('environment substitution', () => {
  const listenOnly = (value: string) =>
    yaml('version: 1', 'listeners:', '  - name: main', `    listen: ${value}`);

  it('substitutes ${VAR}', () => {
    expect(parsed(listenOnly('${ADDR}'), { ADDR: '127.0.0.1:7000' }).listeners[0]!.listen).toBe(
      '127.0.0.1:7000',
    );
  });

  it('uses the default of ${VAR:-default} when VAR is unset or empty, and VAR otherwise', () => {
    const text = listenOnly('${ADDR:-127.0.0.1:7001}');
    expect(parsed(text, {}).listeners[0]!.listen).toBe('127.0.0.1:7001');
    expect(parsed(text, { ADDR: '' }).listeners[0]!.listen).toBe('127.0.0.1:7001');
    expect(parsed(text, { ADDR: '127.0.0.1:7002' }).listeners[0]!.listen).toBe('127.0.0.1:7002');
  });

  it('keeps $$ as a literal $, including before a brace', () => {
    const text = yaml(...BASE, 'admin: { token: "pa$$word-$${T}" }');
    expect(parsed(text, { T: 'substituted' }).admin.token).toBe('pa$word-${T}');
  });

  it('makes an empty substitution an empty string, never null', () => {
    expect(parsed(yaml(...BASE, 'admin: { token: ${T:-} }')).admin.token).toBe('');
    expect(parsed(yaml(...BASE, 'admin:', '  token: ${T:-}')).admin.token).toBe('');
    expect(parsed(yaml(...BASE, 'admin:', '  token: ${T:-}   # no token')).admin.token).toBe('');
    expect(parsed(yaml(...BASE, 'admin:', '  token: ${T}'), { T: '' }).admin.token).toBe('');
    expect(substituteEnv('list:\n  - ${H:-}\nflow: [a, ${H:-}]\n', {}).text).toBe(
      'list:\n  - ""\nflow: [a, ""]\n',
    );
  });

  it('leaves an empty substitution inside a longer scalar alone', () => {
    expect(parsed(yaml(...BASE, 'admin:', '  token: pre-${T:-}')).admin.token).toBe('pre-');
    expect(parsed(yaml(...BASE, 'admin:', '  token: "${T:-}"')).admin.token).toBe('');
    expect(parsed(yaml(...BASE, 'admin:', '  token: ${A:-}${B:-x}')).admin.token).toBe('x');
  });

  it('reports an unset variable without a default at its line and column', () => {
    const text = yaml(...BASE, 'admin:', '  token: ${SECRET}');
    expect(problems(text)).toEqual([
      [6, 10, '(env)', 'environment variable SECRET is not set (write ${SECRET:-default})'],
    ]);
  });

  it('reports positions in the file as written when substitutions change lengths or add lines', () => {
    const env = { LONG: 'x'.repeat(300), SHORT: '', MULTI: 'a\n    b\n    c\n    d' };
    const text = yaml(
      ...BASE,
      'upstream: { ca_file: ${LONG}, bogus: 1 }', // 5
      'admin:',
      '  token: "${MULTI}"', // 7: three more lines once substituted
      'chaos: { level: ${SHORT:-1}, seed: ${UNSET} }', // 8
      'log: { levle: info }', // 9
    );
    expect(problems(text, env)).toEqual([
      [5, 31, 'upstream.bogus', 'unknown key'],
      [8, 36, '(env)', 'environment variable UNSET is not set (write ${UNSET:-default})'],
      [9, 8, 'log.levle', 'unknown key (did you mean "level"?)'],
    ]);
  });

  it('maps offsets back through substituteEnv().toRaw', () => {
    const raw = 'a: ${X}\nb: ${Y:-}\nc: 1\n';
    const { text, toRaw, missing } = substituteEnv(raw, { X: 'longer value' });
    expect(text).toBe('a: longer value\nb: ""\nc: 1\n');
    expect(missing).toEqual([]);
    expect(toRaw(text.indexOf('c:'))).toBe(raw.indexOf('c:'));
    expect(toRaw(text.indexOf('value'))).toBe(raw.indexOf('${X}'));
    expect(toRaw(0)).toBe(0);
  });
});

describe('the parsed config', () => {
  it('resolves fault aliases to canonical types with their defaults', () => {
    const text = yaml(
      ...BASE,
      'tools:',
      '  - name: search',
      'experiments:',
      '  - { name: down, type: tool_unavailable, target: { tools: [search] } }',
      '  - { name: junk, type: malformed_output }',
      '  - { name: lazy, type: uncooperative_agent, config: { mode: stall } }',
      '  - { name: down500, type: tool_unavailable, config: { status: 500 } }',
    );
    const [down, junk, lazy, down500] = parsed(text).experiments;
    expect(down).toMatchObject({ type: 'error', alias: 'tool_unavailable', config: { status: 503 } });
    expect(junk).toMatchObject({
      type: 'malformed',
      alias: 'malformed_output',
      config: { kind: 'json_syntax' },
    });
    expect(lazy).toMatchObject({
      type: 'uncooperative',
      alias: 'uncooperative_agent',
      config: { mode: 'stall', stall_ms: 30_000 },
    });
    expect(down500).toMatchObject({ type: 'error', config: { status: 500 } });
  });

  it('validates an alias config with the canonical schema', () => {
    const text = yaml(
      ...BASE,
      'experiments:',
      '  - name: e',
      '    type: tool_unavailable',
      '    config:',
      '      status: 42',
    );
    expect(problems(text)).toEqual([[9, 15, 'experiments[0].config.status', msg('>=200')]]);
  });

  it('fills defaults', () => {
    const config = parsed(
      yaml(...BASE, 'tools:', '  - name: t', 'experiments:', '  - { name: e, type: close }'),
    );
    expect(config.listeners[0]).toEqual({
      name: 'main',
      listen: '127.0.0.1:0',
      forward: false,
      tls: 'tunnel',
      allow_hosts: [],
      tls_passthrough: [],
    });
    expect(config.admin).toEqual({ listen: '127.0.0.1:9090', token: '' });
    expect(config.chaos).toEqual({ level: 1, header_overrides: false, mark_injected: true });
    expect(config.limits).toMatchObject({
      max_header_bytes: 32_768,
      max_body_bytes: 10_485_760,
      max_label_values: 200,
    });
    expect(config.upstream).toEqual({
      reject_unauthorized: true,
      connect_timeout_ms: 10_000,
      response_timeout_ms: 300_000,
      max_connections_per_origin: 0,
    });
    expect(config.agents).toEqual({
      from: ['header:x-agent-id', 'proxy_user', 'client_ip'],
      client_ips: {},
      default: 'unknown',
    });
    expect(config.tenants).toMatchObject({ from: ['header:x-tenant-id'], default: 'default' });
    expect(config.tools[0]).toEqual({ name: 't', match: {}, format: 'json', fallback_for: [] });
    expect(config.experiments[0]).toMatchObject({
      target: { tools: ['*'], agents: ['*'], tenants: ['*'], percentage: 1 },
      config: {},
    });
    expect(config.experiments[0]!.probability).toBeUndefined();
    expect(config.safety).toEqual({
      max_affected_requests: 1000,
      cascade_threshold: 20,
      auto_abort_on_cascade: true,
      max_blast_radius: 'multi_tenant',
      max_active_faults: 100,
    });
    expect(config.slos).toEqual({
      availability: 0.99,
      latency_p99_ms: 2000,
      mttr_s: 30,
      recovery_window_s: 60,
    });
    expect(config.log).toEqual({ level: 'info' });
  });

  it('is deeply frozen', () => {
    const config = parsed(
      yaml(...BASE, 'experiments:', '  - { name: e, type: error, config: { status: [500] } }'),
    );
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.listeners[0])).toBe(true);
    expect(Object.isFrozen(config.experiments[0]!.config)).toBe(true);
    const status = (config.experiments[0]!.config as { status: number[] }).status;
    expect(Object.isFrozen(status)).toBe(true);
    expect(() => {
      (config.chaos as { level: number }).level = 0;
    }).toThrow(TypeError);
    expect(() => status.push(502)).toThrow(TypeError);
  });

  it('resolves relative ca_file and ca.dir against the config file directory', () => {
    const relative = parsed(yaml(...BASE, 'upstream: { ca_file: ./certs/ca.pem }', 'ca: { dir: ../ca }'));
    expect(relative.upstream.ca_file).toBe('/etc/faultgate/certs/ca.pem');
    expect(relative.ca.dir).toBe('/etc/ca');
    const absolute = parsed(yaml(...BASE, 'upstream: { ca_file: /srv/ca.pem }'));
    expect(absolute.upstream.ca_file).toBe('/srv/ca.pem');
    expect(absolute.ca.dir).toBe('/etc/faultgate/.faultgate/ca');
  });

  it('accepts an explicit base directory', () => {
    const result = parseConfig('x.yaml', yaml(...BASE, 'upstream: { ca_file: ca.pem }'), {}, '/opt/fg');
    expect(result.ok && result.config.upstream.ca_file).toBe('/opt/fg/ca.pem');
  });

  it('keeps the text as written (before substitution)', () => {
    const text = yaml(...BASE, 'admin: { token: ${T:-x} }');
    const result = parseConfig(FILE, text, {});
    expect(result.ok && result.text).toBe(text);
  });
});

describe('loadConfigFile and formatProblem', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'faultgate-load-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads a file and resolves paths against its directory', () => {
    mkdirSync(join(dir, 'conf'));
    const file = join(dir, 'conf', 'proxy.yaml');
    writeFileSync(file, yaml(...BASE, 'upstream: { ca_file: ca.pem }'));
    const result = loadConfigFile(file, {});
    expect(result.ok && result.config.upstream.ca_file).toBe(join(dir, 'conf', 'ca.pem'));
  });

  it.each([
    'proxy.example.yaml',
    'config/docker.yaml',
    'config/samples/reverse-openai.yaml',
    'config/samples/forward-mcp.yaml',
    'config/samples/sse-streams.yaml',
  ])('accepts the shipped config %s', (name) => {
    const result = loadConfigFile(fileURLToPath(new URL(`../../${name}`, import.meta.url)), {});
    expect(result.ok ? [] : result.problems.map(formatProblem)).toEqual([]);
  });

  it('reports a missing file as one problem', () => {
    const file = join(dir, 'nope.yaml');
    expect(loadConfigFile(file)).toEqual({
      ok: false,
      problems: [{ file, line: 0, col: 0, path: '(file)', message: 'file not found' }],
    });
  });

  it('formats FILE:LINE:COL  path  message', () => {
    expect(
      formatProblem({ file: 'a.yaml', line: 3, col: 7, path: 'listeners[0].listen', message: 'bad' }),
    ).toBe('a.yaml:3:7  listeners[0].listen  bad');
  });
});

describe('environment substitution and comments', () => {
  it('leaves ${VAR} inside YAML comments alone', () => {
    const r = parseConfig(
      'c.yaml',
      'version: 1 # token: ${SECRET}\n# ${ALSO_UNSET}\nlisteners: [{ name: "a#${NAME:-x}", listen: "127.0.0.1:0" }]\n',
      {},
    );
    expect(r.ok).toBe(true);
    if (r.ok) expect(r.config.listeners[0]!.name).toBe('a#x');
  });
});
