import { spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type FaultgateHandle,
  FaultgateError,
  FaultgateValidationError,
  type Report,
  type SessionView,
  startFaultgate,
} from '../../src/index.js';
import { parseMetrics, startUpstream } from '../helpers/index.js';

const handles: FaultgateHandle[] = [];
afterEach(async () => {
  await Promise.all(handles.splice(0).map((h) => h.close()));
});

async function start(options: Parameters<typeof startFaultgate>[0]): Promise<FaultgateHandle> {
  const fg = await startFaultgate(options);
  handles.push(fg);
  return fg;
}

/** One GET with a fresh connection (no pooled socket outlives the test). */
function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((ok, ko) => {
    request(url, { agent: false, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => ok({ status: res.statusCode!, body }));
      res.on('error', ko);
    })
      .on('error', ko)
      .end();
  });
}

describe('startFaultgate (library API)', () => {
  it('runs an object config on port 0, drives a session and returns the typed report', async () => {
    const upstream = await startUpstream((_req, res) => res.end('{"ok":true}'));
    const fg = await start({
      config: {
        listeners: [{ name: 'api', upstream: upstream.url }],
        tools: [{ name: 'search', match: { path: '/search/**' } }],
        chaos: { seed: 7 },
      },
    });
    expect(fg.baseUrl()).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(fg.baseUrl('api')).toBe(fg.baseUrl());
    expect(fg.proxyUrl).toBe(fg.baseUrl());
    expect(fg.adminUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(fg.adminUrl).not.toBe(fg.baseUrl());

    const created: SessionView = fg.sessions.create({
      name: 'break-search',
      experiments: [{ name: 'down', type: 'error', probability: 1, config: { status: 503 } }],
    });
    expect(created.state).toBe('created');
    expect(fg.sessions.start(created.id).state).toBe('running');
    expect(fg.sessions.list().map((s) => s.name)).toContain('break-search');

    const headers = { 'x-agent-id': 'planner' };
    expect((await get(`${fg.baseUrl()}/search/q`, headers)).status).toBe(503);
    expect(fg.sessions.stop(created.id).state).toBe('stopped');
    expect((await get(`${fg.baseUrl()}/search/q`, headers)).status).toBe(200);

    const report: Report = fg.report();
    const row = report.agents.find((a) => a.agent === 'planner')!.tools.find((t) => t.tool === 'search')!;
    expect(row).toMatchObject({ requests: 2, failures: 1, incidents: 1, recovered: 1 });
    expect(row.faults).toEqual({ error: 1 });
    expect(report.seed).toBe(7);

    const metrics = parseMetrics(await fg.metrics());
    expect(
      metrics.get(
        'faultgate_faults_injected_total{agent="planner",tool="search",experiment="down",fault="error"}',
      ),
    ).toBe(1);
  });

  it('forward listener by default: proxyUrl accepts HTTP_PROXY traffic to loopback hosts', async () => {
    const upstream = await startUpstream((req, res) => res.end(`seen ${req.url}`));
    const fg = await start({ config: {} });
    const res = await new Promise<{ status: number; body: string }>((ok, ko) => {
      const proxy = new URL(fg.proxyUrl);
      request(
        { host: proxy.hostname, port: proxy.port, path: `${upstream.url}/hello`, agent: false },
        (r) => {
          let body = '';
          r.on('data', (d) => (body += d));
          r.on('end', () => ok({ status: r.statusCode!, body }));
        },
      )
        .on('error', ko)
        .end();
    });
    expect(res).toEqual({ status: 200, body: 'seen /hello' });
  });

  it('level, abortAll and typed errors for unknown sessions and bad transitions', async () => {
    const fg = await start({
      config: { experiments: [{ name: 'slow', type: 'latency', config: { min_ms: 1, max_ms: 2 } }] },
    });
    fg.setLevel(0.5);
    expect(fg.level()).toBe(0.5);
    expect(() => fg.setLevel(11)).toThrow(FaultgateValidationError);
    const aborted = fg.abortAll('test over');
    expect(aborted.map((s) => [s.name, s.state, s.abort_reason])).toEqual([
      ['default', 'aborted', 'test over'],
    ]);
    const err = (() => {
      try {
        fg.sessions.get('nope');
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(FaultgateError);
    expect((err as FaultgateError).code).toBe('FAULTGATE_ERR_NOT_FOUND');
    const id = aborted[0]!.id;
    expect(() => fg.sessions.start(id)).toThrow(/cannot start a session that is aborted/);
    expect(fg.resume()).toMatchObject({ name: 'default', state: 'running' });
  });

  it('an invalid session body throws every problem with its path', () => {
    return start({ config: {} }).then((fg) => {
      try {
        fg.sessions.create({
          name: 'x',
          experiments: [{ name: 'e', type: 'error', config: { status: 99 } }],
        });
        expect.unreachable();
      } catch (e) {
        expect(e).toBeInstanceOf(FaultgateValidationError);
        const v = e as FaultgateValidationError;
        expect(v.code).toBe('FAULTGATE_ERR_BAD_REQUEST');
        expect(v.problems.map((p) => p.path)).toContain('experiments[0].config.status');
      }
    });
  });

  it('an invalid config object throws FaultgateValidationError with the problems validate prints', async () => {
    const bad = startFaultgate({
      // @ts-expect-error: the typo is the point of the test
      config: { listeners: [{ name: 'main', forwad: true }], chaos: { level: -1 } },
    });
    await expect(bad).rejects.toBeInstanceOf(FaultgateValidationError);
    const err = (await bad.catch((e: unknown) => e)) as FaultgateValidationError;
    expect(err.code).toBe('FAULTGATE_ERR_CONFIG');
    expect(err.problems.map((p) => p.path).sort()).toEqual(['chaos.level', 'listeners[0].forwad']);
    expect(err.message).toContain('listeners[0].forwad  unknown key');
  });

  it('needs exactly one of config and configFile', async () => {
    await expect(startFaultgate({})).rejects.toThrow(/exactly one of `config` and `configFile`/);
  });

  it('starts from a config file and reload() re-reads it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'faultgate-lib-'));
    const file = join(dir, 'proxy.yaml');
    const yaml = (level: number) =>
      `version: 1\nlisteners: [{ name: main, listen: "127.0.0.1:0" }]\nadmin: { listen: "127.0.0.1:0" }\nchaos: { level: ${level} }\n`;
    writeFileSync(file, yaml(0.3));
    const fg = await start({ configFile: file });
    expect(fg.level()).toBe(0.3);
    writeFileSync(file, yaml(0.6));
    expect((await fg.reload()).configHash).toMatch(/^[0-9a-f]{16}$/);
    expect(fg.level()).toBe(0.6);
    writeFileSync(file, 'version: 2\n');
    const err = await fg.reload().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FaultgateValidationError);
    expect((err as Error).message).toContain(`${file}:1:10  version`);
  });

  it('reload(config) swaps an object config in and keeps the bound ports', async () => {
    const fg = await start({ config: { chaos: { level: 1 } } });
    const before = { base: fg.baseUrl(), admin: fg.adminUrl };
    await fg.reload({ chaos: { level: 0.25 } });
    expect(fg.level()).toBe(0.25);
    expect({ base: fg.baseUrl(), admin: fg.adminUrl }).toEqual(before);
    await expect(fg.reload({ chaos: { level: 99 } })).rejects.toThrow(/chaos\.level/);
    expect(fg.level()).toBe(0.25);
    const reloads = parseMetrics(await fg.metrics());
    expect(reloads.get('faultgate_config_reloads_total{result="ok"}')).toBe(1);
    expect(reloads.get('faultgate_config_reloads_total{result="rejected"}')).toBe(1);
  });

  it('close() leaves no handle open: the process exits by itself with nothing active', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'faultgate-lib-'));
    const script = join(dir, 'close.mjs');
    const index = pathToFileURL(resolve('dist/src/index.js')).href;
    writeFileSync(
      script,
      `import { writeFileSync } from 'node:fs';
import { createServer, request } from 'node:http';
import { startFaultgate } from ${JSON.stringify(index)};
const up = createServer((req, res) => res.end('ok'));
await new Promise((r) => up.listen(0, '127.0.0.1', r));
const fg = await startFaultgate({ config: {
  listeners: [{ name: 'api', upstream: 'http://127.0.0.1:' + up.address().port }],
  experiments: [{ name: 'slow', type: 'latency', probability: 1, config: { pattern: 'fixed', min_ms: 5, max_ms: 5 } }],
} });
const body = await new Promise((ok, ko) => request(fg.baseUrl() + '/x', { agent: false }, (res) => {
  let b = ''; res.on('data', (d) => (b += d)); res.on('end', () => ok(b));
}).on('error', ko).end());
const requests = fg.report().overall.requests;
await fg.close();
await new Promise((r) => up.close(r));
// Written to a file: a write to the stdout pipe would itself be an active handle.
process.once('beforeExit', () => writeFileSync(${JSON.stringify(join(dir, 'out.json'))}, JSON.stringify({ body, requests, active: process.getActiveResourcesInfo() })));
`,
    );
    // Without the IPC channel a vitest worker would hand down (NODE_CHANNEL_FD): it is a pipe too.
    const env = Object.fromEntries(
      Object.entries(process.env).filter(([k]) => !k.startsWith('NODE_CHANNEL')),
    );
    // stderr to a file, not a pipe: a pipe would itself count as an active handle.
    const errFile = join(dir, 'stderr.txt');
    const errFd = openSync(errFile, 'w');
    const child = spawn(process.execPath, [script], { env, stdio: ['ignore', 'ignore', errFd] });
    closeSync(errFd);
    // No process.exit in the script: it ends only when nothing keeps the event loop alive.
    const code = await new Promise<number | null>((r) => child.once('exit', r));
    expect(readFileSync(errFile, 'utf8')).toBe('');
    expect(code).toBe(0);
    expect(JSON.parse(readFileSync(join(dir, 'out.json'), 'utf8'))).toEqual({
      body: 'ok',
      requests: 1,
      active: [],
    });
  });
});
