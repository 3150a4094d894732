/**
 * `faultgate run` as users run it: the built CLI as a process, real agents as its command
 * (Node fetch through the preload on Node 20, python3 requests, curl), real upstreams on port 0.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { Report } from '../../src/observe/report-model.js';
import { startUpstream } from '../helpers/index.js';
import { cli, startCli, tempDir } from './fixtures.js';

const CONFIG = `version: 1
agents: { from: [proxy_user], default: nobody }
tools:
  - { name: search, match: { path: "/search" } }
chaos: { header_overrides: true, seed: 3 }
slos: { recovery_window_s: 30 }
`;

const NODE_AGENT = `
const url = process.argv[2];
const fault = { 'x-faultgate-fault': 'error;status=503;times=1' };
const health = await fetch(process.env.FAULTGATE_ADMIN_URL + '/healthz'); // NO_PROXY: direct
await health.text();
let r = await fetch(url, { headers: fault });
const first = r.status;
await r.text();
if (first === 503) { await new Promise((ok) => setTimeout(ok, 20)); r = await fetch(url, { headers: fault }); }
const body = await r.text();
const pick = ['NODE_USE_ENV_PROXY', 'NO_PROXY', 'no_proxy', 'HTTP_PROXY', 'https_proxy', 'FAULTGATE_ADMIN_URL', 'NODE_EXTRA_CA_CERTS'];
console.log(JSON.stringify({ first, second: r.status, body, health: health.status,
  env: Object.fromEntries(pick.map((k) => [k, process.env[k] ?? null])) }));
`;

const PY_AGENT = `
import sys, requests
r = requests.get(sys.argv[1], headers={'x-faultgate-fault': 'error;status=503'})
print(r.status_code)
`;

/** requests with urllib3's own retry policy: the SDK retries, not the script. */
const PY_RETRYING_AGENT = `
import sys, requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry
s = requests.Session()
retry = Retry(total=3, status_forcelist=[503], backoff_factor=0.01, allowed_methods=None, raise_on_status=False)
s.mount('http://', HTTPAdapter(max_retries=retry))
r = s.post(sys.argv[1], json={'q': 'weather'}, headers={'x-faultgate-fault': 'error;status=503;times=1'})
print(r.status_code, r.text)
`;

/** The agent's own undici (here faultgate's copy, by path): request() uses the global dispatcher too. */
const UNDICI_AGENT = (undici: string) => `
const { request } = await import(${JSON.stringify(undici)});
const r = await request(process.argv[2], { headers: { 'x-faultgate-fault': 'error;status=502' } });
console.log(r.statusCode, await r.body.text());
`;

const hasPython = (() => {
  try {
    execFileSync('python3', ['-c', 'import requests'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();
const hasCurl = (() => {
  try {
    execFileSync('curl', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

async function search() {
  let calls = 0;
  const up = await startUpstream((req, res) => {
    calls++;
    req.resume();
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"hits":3}');
  });
  return { url: `${up.url}/search`, calls: () => calls };
}

const json = (path: string) => JSON.parse(readFileSync(path, 'utf8')) as Report;

describe('faultgate run (whole process)', () => {
  it('node fetch goes through the proxy on Node 20 (preload), recovers, passes --min-grade: exit 0', async () => {
    const up = await search();
    const { file } = tempDir();
    const config = file('c.yaml', CONFIG);
    const agent = file('agent.mjs', NODE_AGENT);
    const out = file('report.json', '');
    const run = await cli([
      'run',
      '-c',
      config,
      '--agent',
      'planner',
      '--report',
      out,
      '--min-grade',
      'B',
      '--',
      process.execPath,
      agent,
      up.url,
    ]);
    expect(run.code, run.stderr).toBe(0);
    const seen = JSON.parse(run.stdout.trim()) as Record<string, unknown> & { env: Record<string, string> };
    // 503 first: the request reached faultgate (direct, the upstream would have said 200)
    expect(seen).toMatchObject({ first: 503, second: 200, body: '{"hits":3}', health: 200 });
    expect(up.calls()).toBe(1);
    expect(seen.env.NODE_USE_ENV_PROXY).toBe('1');
    expect(seen.env.HTTP_PROXY).toMatch(/^http:\/\/planner:x@127\.0\.0\.1:\d+$/);
    expect(seen.env.https_proxy).toBe(seen.env.HTTP_PROXY);
    expect(`http://${seen.env.NO_PROXY}`).toBe(seen.env.FAULTGATE_ADMIN_URL);
    expect(seen.env.NODE_EXTRA_CA_CERTS).toBe(process.env.NODE_EXTRA_CA_CERTS ?? null); // no intercept: inherited
    const report = json(out);
    expect(report.provisional).toBe(false);
    expect(report.agents.map((a) => a.agent)).toEqual(['planner']);
    // the admin call bypassed the proxy (NO_PROXY): only search is in the report
    expect(report.agents[0]!.tools.map((t) => t.tool)).toEqual(['search']);
    expect(report.agents[0]!.tools[0]).toMatchObject({ requests: 2, incidents: 1, recovered: 1, open: 0 });
    expect(run.stderr).toContain('faultgate report  grade A'); // the terminal report on stderr
    expect(run.stderr).toContain(`json report written to ${out}`);
  });

  it.skipIf(!hasPython)(
    'python requests: an incident open at exit is unrecovered; below --min-grade: exit 1',
    async () => {
      const up = await search();
      const { file } = tempDir();
      const config = file('c.yaml', CONFIG);
      const agent = file('agent.py', PY_AGENT);
      const out = file('report.md', '');
      const run = await cli([
        'run',
        '-c',
        config,
        '--report',
        out,
        '--min-grade',
        'C',
        '--',
        'python3',
        agent,
        up.url,
      ]);
      expect(run.stdout.trim()).toBe('503');
      expect(up.calls()).toBe(0);
      expect(run.code, run.stderr).toBe(1);
      expect(run.stderr).toContain('gate failed: grade F (score 20) is below --min-grade C');
      const md = readFileSync(out, 'utf8');
      expect(md).toContain('## Agent python3: grade F'); // named after the command by default
      expect(md).not.toContain('PROVISIONAL');
      expect(md).toContain('never recovered');
    },
  );

  it.skipIf(!hasPython)(
    'python requests retrying by itself meets times=1: 503, then 200, one recovered incident',
    async () => {
      const up = await search();
      const { file } = tempDir();
      const out = file('r.json', '');
      const run = await cli([
        'run',
        '-c',
        file('c.yaml', CONFIG),
        '--agent',
        'sdk',
        '--report',
        out,
        '--min-grade',
        'A',
        '--',
        'python3',
        file('a.py', PY_RETRYING_AGENT),
        up.url,
      ]);
      expect(run.stdout.trim()).toBe('200 {"hits":3}');
      expect(run.code, run.stderr).toBe(0);
      expect(up.calls()).toBe(1);
      const row = json(out).agents[0]!;
      expect(row).toMatchObject({
        agent: 'sdk',
        requests: 2,
        failures: 1,
        incidents: 1,
        recovered: 1,
        unrecovered: 0,
      });
      expect(row.grade).toBe('A');
    },
  );

  it('a Node agent using undici.request directly goes through the proxy as well', async () => {
    const up = await search();
    const { file } = tempDir();
    const undici = new URL('../../node_modules/undici/index.js', import.meta.url).href;
    const run = await cli([
      'run',
      '-c',
      file('c.yaml', CONFIG),
      '--',
      process.execPath,
      file('u.mjs', UNDICI_AGENT(undici)),
      up.url,
    ]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^502 /);
    expect(up.calls()).toBe(0);
  });

  it.skipIf(!hasPython)(
    'the json report of python requests: unrecovered, not open, agent from --agent',
    async () => {
      const up = await search();
      const { file } = tempDir();
      const out = file('r.json', '');
      const run = await cli([
        'run',
        '-c',
        file('c.yaml', CONFIG),
        '--agent',
        'py-planner',
        '--report',
        out,
        '--',
        'python3',
        file('a.py', PY_AGENT),
        up.url,
      ]);
      expect(run.code, run.stderr).toBe(0); // no gate asked
      const r = json(out);
      expect(r.provisional).toBe(false);
      expect(r.agents[0]).toMatchObject({
        agent: 'py-planner',
        incidents: 1,
        unrecovered: 1,
        open: 0,
        grade: 'F',
      });
      expect(r.findings.map((f) => f.kind)).toEqual(['never_recovered']);
    },
  );

  it.skipIf(!hasCurl)("curl: the command's own non-zero exit code wins over the gate", async () => {
    const up = await search();
    const { file } = tempDir();
    const run = await cli([
      'run',
      '-c',
      file('c.yaml', CONFIG),
      '--agent',
      'curler',
      '--min-grade',
      'A',
      '--',
      'curl',
      '-sf',
      '-H',
      'x-faultgate-fault: error;status=503',
      up.url,
    ]);
    expect(run.code).toBe(22); // curl -f on an HTTP error
    expect(run.stderr).toMatch(/curler +1 /);
    expect(run.stderr).not.toContain('gate failed');
  });

  it('no request through faultgate: a warning, and any gate fails (an empty report must not pass)', async () => {
    const { file } = tempDir();
    const config = file('c.yaml', CONFIG);
    const quiet = await cli(['run', '-c', config, '--', process.execPath, '-e', '0']);
    expect(quiet.code).toBe(0);
    expect(quiet.stderr).toContain('no request went through faultgate: does the command honour HTTP_PROXY');
    const gated = await cli([
      'run',
      '-c',
      config,
      '--max-unrecovered',
      '5',
      '--',
      process.execPath,
      '-e',
      '0',
    ]);
    expect(gated.code).toBe(1);
    expect(gated.stderr).toContain('gate failed: no request went through faultgate');
    const byIp = file('ip.yaml', 'version: 1\nagents: { from: [client_ip] }\n');
    const unnamed = await cli(['run', '-c', byIp, '--agent', 'planner', '--', process.execPath, '-e', '0']);
    expect(unnamed.stderr).toContain('agents.from has no proxy_user: the agent is not named "planner"');
  });

  it('forwards SIGTERM to the command and exits with its code', async () => {
    const { file } = tempDir();
    const script = file(
      'wait.mjs',
      "process.on('SIGTERM', () => { console.log('got SIGTERM'); process.exit(42); });\nconsole.log('ready');\nsetInterval(() => {}, 1000);\n",
    );
    const run = startCli(['run', '-c', file('c.yaml', CONFIG), '--', process.execPath, script]);
    await run.stdoutHas('ready');
    run.child.kill('SIGTERM');
    const end = await run.done;
    expect(end.code).toBe(42);
    expect(end.stdout).toContain('got SIGTERM');
    expect(end.stderr).toContain('faultgate report');
  });

  it('a command killed by a signal exits 128+N; a missing command 127', async () => {
    const { file } = tempDir();
    const config = file('c.yaml', CONFIG);
    const killed = await cli([
      'run',
      '-c',
      config,
      '--',
      process.execPath,
      '-e',
      "process.kill(process.pid, 'SIGKILL')",
    ]);
    expect(killed.code).toBe(137);
    expect(killed.stderr).toContain('killed by SIGKILL');
    const missing = await cli(['run', '-c', config, '--', 'faultgate-no-such-command']);
    expect(missing.code).toBe(127);
    expect(missing.stderr).toContain('cannot run "faultgate-no-such-command": command not found');
  });

  it('usage and configuration errors exit 2 before running anything; --help states the exit codes', async () => {
    const { file } = tempDir();
    const config = file('c.yaml', CONFIG);
    const marker = file('ran', '');
    const touch = [process.execPath, '-e', `require('fs').writeFileSync(${JSON.stringify(marker)}, 'yes')`];
    const noDash = await cli(['run', '-c', config, 'true']);
    expect(noDash.code).toBe(2);
    expect(noDash.stderr).toContain('put the command after --');
    const noConfig = await cli(['run', '--', ...touch]);
    expect(noConfig.code).toBe(2);
    expect(noConfig.stderr).toContain('run needs -c FILE');
    const bad = await cli([
      'run',
      '-c',
      file('bad.yaml', 'version: 1\nchaos: { levle: 1 }\n'),
      '--',
      ...touch,
    ]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/bad\.yaml:2:\d+ +chaos/);
    const grade = await cli(['run', '-c', config, '--min-grade', 'Q', '--', ...touch]);
    expect(grade.code).toBe(2);
    expect(readFileSync(marker, 'utf8')).toBe('');
    for (const r of [noDash, noConfig, bad, grade]) expect(r.stderr).not.toMatch(/\n\s+at /);
    const help = await cli(['run', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("Exit codes: CMD's own when it is not 0");
  });
});
