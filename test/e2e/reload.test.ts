/**
 * Hot reload (SPEC section 2, issue 5): a valid file is swapped in for new requests while
 * listeners that did not move keep their sockets; an invalid one changes nothing and is counted.
 */
import { Agent, request as httpRequest } from 'node:http';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { Pool } from 'undici';
import { describe, expect, it, onTestFinished } from 'vitest';
import { formatProblem, loadConfigFile } from '../../src/config/load.js';
import { Faultgate } from '../../src/faultgate.js';
import { createLogger } from '../../src/observe/logger.js';
import { configYaml, scrape, startFaultgate, startUpstream, waitFor } from '../helpers/index.js';

interface Reply {
  status?: number;
  body?: string;
  error?: string;
  /** The request went over a kept-alive socket that an earlier request opened. */
  reused?: boolean;
  injected?: string;
}

/** One node:http GET; `agent` keeps sockets alive between calls when given. */
function get(url: string, path: string, agent: Agent | false = false): Promise<Reply> {
  return new Promise((resolve) => {
    const req = httpRequest(new URL(path, url), { agent }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () =>
        resolve({
          status: res.statusCode,
          body,
          reused: req.reusedSocket,
          injected: res.headers['x-faultgate-injected'] as string | undefined,
        }),
      );
      res.on('error', (e: NodeJS.ErrnoException) => resolve({ error: e.code ?? e.message }));
    });
    req.on('error', (e: NodeJS.ErrnoException) => resolve({ error: e.code ?? e.message }));
    req.end();
  });
}

/** A faultgate started from a real file, as `faultgate start -c FILE` does. */
async function startFromFile(yaml: string, watch = false) {
  const dir = mkdtempSync(join(tmpdir(), 'faultgate-reload-'));
  const file = join(dir, 'proxy.yaml');
  writeFileSync(file, yaml);
  const loaded = loadConfigFile(file);
  if (!loaded.ok) throw new Error(loaded.problems.map(formatProblem).join('\n'));
  const logs: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString('utf8').split('\n')) if (line) logs.push(JSON.parse(line));
      cb();
    },
  });
  const fg = await Faultgate.start(loaded.config, {
    configPath: file,
    watch,
    logger: createLogger('debug', sink),
  });
  onTestFinished(async () => {
    await fg.close(1000);
    rmSync(dir, { recursive: true, force: true });
  });
  return { fg, file, logs, write: (text: string) => writeFileSync(file, text) };
}

function configText(opts: { upstream: string; listen?: string; extra?: string }): string {
  return [
    'version: 1',
    'listeners:',
    '  - name: main',
    `    listen: ${opts.listen ?? '127.0.0.1:0'}`,
    `    upstream: ${opts.upstream}`,
    'admin: { listen: 127.0.0.1:0 }',
    'chaos: { seed: 1 }',
    opts.extra ?? '',
  ].join('\n');
}

const searchTool = 'tools:\n  - name: search\n    match: { path: "/search/**" }\n';
const lookupBroken = [
  'tools:',
  '  - name: lookup',
  '    match: { path: "/search/**" }',
  'experiments:',
  '  - name: break-lookup',
  '    type: error',
  '    probability: 1',
  '    target: { tools: [lookup] }',
  '    config: { status: 503 }',
  '',
].join('\n');

async function okUpstream(delayMs = 0) {
  return startUpstream((_req, res) => {
    setTimeout(() => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"ok":true}');
    }, delayMs);
  });
}

const reloads = async (adminUrl: string) => {
  const m = await scrape(adminUrl);
  return {
    ok: m.get('faultgate_config_reloads_total{result="ok"}'),
    rejected: m.get('faultgate_config_reloads_total{result="rejected"}'),
  };
};

describe('reload with a valid file', () => {
  it('applies new experiments and tool names to new requests; the listener keeps its port and sockets', async () => {
    const up = await okUpstream();
    const { fg, write } = await startFromFile(configText({ upstream: up.url, extra: searchTool }));
    const keepAlive = new Agent({ keepAlive: true, maxSockets: 1 });
    onTestFinished(() => keepAlive.destroy());
    const { url, port } = fg.listeners[0]!;
    expect(await reloads(fg.admin.url)).toEqual({ ok: 0, rejected: 0 });

    const before = await get(url, '/search/q', keepAlive);
    expect(before).toMatchObject({ status: 200, body: '{"ok":true}', reused: false });
    const hashBefore = fg.report()!.config_hash;

    write(configText({ upstream: up.url, extra: lookupBroken }));
    const result = await fg.reload();
    expect(result).toMatchObject({ ok: true, configHash: expect.stringMatching(/^[0-9a-f]{16}$/) });
    expect(result.ok && result.configHash).not.toBe(hashBefore);
    expect(fg.report()!.config_hash).toBe(result.ok && result.configHash);

    // Same port, and the connection opened before the reload carries the next request.
    expect(fg.listeners[0]!.port).toBe(port);
    const after = await get(url, '/search/q', keepAlive);
    expect(after).toMatchObject({ status: 503, reused: true, injected: 'break-lookup/error' });

    const m = await scrape(fg.admin.url);
    expect(m.get('faultgate_config_reloads_total{result="ok"}')).toBe(1);
    expect(m.get('faultgate_config_reloads_total{result="rejected"}')).toBe(0);
    expect(
      m.get('faultgate_requests_total{agent="127.0.0.1",tool="search",outcome="success",injected="false"}'),
    ).toBe(1);
    expect(
      m.get('faultgate_requests_total{agent="127.0.0.1",tool="lookup",outcome="failure",injected="true"}'),
    ).toBe(1);
    expect(
      m.get(
        'faultgate_faults_injected_total{agent="127.0.0.1",tool="lookup",experiment="break-lookup",fault="error"}',
      ),
    ).toBe(1);
  });

  it('keeps a request in flight on the config it started with', async () => {
    const up = await okUpstream(300);
    const { fg, write } = await startFromFile(configText({ upstream: up.url, extra: searchTool }));
    const { url } = fg.listeners[0]!;
    const inFlight = get(url, '/search/slow');
    await waitFor(() => up.sockets.size > 0, 5000, 'the request to reach the upstream');
    write(configText({ upstream: up.url, extra: lookupBroken }));
    expect((await fg.reload()).ok).toBe(true);
    expect(await inFlight).toMatchObject({ status: 200, injected: undefined });
    expect(await get(url, '/search/next')).toMatchObject({ status: 503 });
    const m = await scrape(fg.admin.url);
    expect(
      m.get('faultgate_requests_total{agent="127.0.0.1",tool="search",outcome="success",injected="false"}'),
    ).toBe(1);
  });

  it('rebinds a listener whose address changed, binds a new one and drains the old address', async () => {
    const up = await startUpstream((req, res) => {
      setTimeout(() => res.end('done'), req.url === '/slow' ? 300 : 0);
    });
    const { fg, write } = await startFromFile(configText({ upstream: up.url }));
    const old = fg.listeners[0]!;
    expect(old.host).toBe('127.0.0.1');
    const inFlight = get(old.url, '/slow');
    await waitFor(() => up.sockets.size > 0, 5000, 'the request to reach the upstream');
    write(
      [
        'version: 1',
        'listeners:',
        '  - name: main',
        '    listen: 127.0.0.2:0',
        `    upstream: ${up.url}`,
        '  - name: extra',
        '    listen: 127.0.0.1:0',
        `    upstream: ${up.url}`,
        'admin: { listen: 127.0.0.1:0 }',
      ].join('\n'),
    );
    expect((await fg.reload()).ok).toBe(true);
    expect(fg.listeners.map((l) => [l.name, l.host])).toEqual([
      ['main', '127.0.0.2'],
      ['extra', '127.0.0.1'],
    ]);
    expect(await get(fg.listener('main').url, '/x')).toMatchObject({ status: 200, body: 'done' });
    expect(await get(fg.listener('extra').url, '/x')).toMatchObject({ status: 200, body: 'done' });
    // The old address accepts nothing new, and the request it was serving finishes there.
    expect(await get(old.url, '/x')).toEqual({ error: 'ECONNREFUSED' });
    expect(await inFlight).toMatchObject({ status: 200, body: 'done' });
  });
});

describe('reload with an invalid file', () => {
  it('keeps the running config, counts the rejection and returns every problem with its line', async () => {
    const up = await okUpstream();
    const { fg, write, logs } = await startFromFile(configText({ upstream: up.url, extra: lookupBroken }));
    const { url } = fg.listeners[0]!;
    expect(await get(url, '/search/q')).toMatchObject({ status: 503 });

    write(
      [
        'version: 1',
        'listeners:',
        '  - name: main',
        '    listen: 127.0.0.1:0',
        `    upstream: ${up.url}`,
        '    forwardd: true',
        'admin: { listen: 127.0.0.1:0 }',
        'chaos: { level: 99 }',
      ].join('\n'),
    );
    const result = await fg.reload();
    expect(result.ok).toBe(false);
    const problems = result.ok ? [] : result.problems;
    expect(problems.map((p) => [p.line, p.path])).toEqual([
      [6, 'listeners[0].forwardd'],
      [8, 'chaos.level'],
    ]);
    expect(problems[0]!.message).toBe('unknown key (did you mean "forward"?)');

    expect(await get(url, '/search/q')).toMatchObject({ status: 503, injected: 'break-lookup/error' });
    expect(await reloads(fg.admin.url)).toEqual({ ok: 0, rejected: 1 });
    const warn = logs.find((l) => typeof l.msg === 'string' && l.msg.startsWith('config reload rejected'));
    expect(warn).toMatchObject({ level: 40, trigger: 'api' });
    expect(warn!.problems).toEqual(problems.map(formatProblem));
  });

  it('rejects a new address that cannot be bound and keeps every listener as it was', async () => {
    const up = await okUpstream();
    const { fg, write } = await startFromFile(configText({ upstream: up.url }));
    const before = [...fg.listeners];
    // The upstream's own port is taken for sure.
    write(configText({ upstream: up.url, listen: `127.0.0.1:${up.port}` }));
    const result = await fg.reload();
    expect(result.ok).toBe(false);
    expect(result.ok ? [] : result.problems.map((p) => [p.path, p.message])).toEqual([
      ['listeners[0].listen', `cannot listen on 127.0.0.1:${up.port}: EADDRINUSE`],
    ]);
    expect(fg.listeners).toEqual(before);
    expect(await get(fg.listeners[0]!.url, '/x')).toMatchObject({ status: 200 });
    expect(await reloads(fg.admin.url)).toEqual({ ok: 0, rejected: 1 });
  });
});

describe('reload without a file', () => {
  it('is rejected when the instance was started from a config object', async () => {
    const up = await okUpstream();
    const { fg } = await startFaultgate(configYaml({ upstream: up.url }));
    expect(await fg.reload()).toEqual({
      ok: false,
      problems: [
        {
          file: '',
          line: 0,
          col: 0,
          path: '(file)',
          message: 'started without a config file: nothing to reload',
        },
      ],
    });
    expect(await reloads(fg.admin.url)).toEqual({ ok: 0, rejected: 1 });
  });
});

describe('reload on a file change', () => {
  it('reloads after the file is written, and a briefly missing file is a rejected reload', async () => {
    const up = await okUpstream();
    const { fg, file, write, logs } = await startFromFile(
      configText({ upstream: up.url, extra: searchTool }),
      true,
    );
    const { url } = fg.listeners[0]!;
    expect(await get(url, '/search/q')).toMatchObject({ status: 200 });

    write(configText({ upstream: up.url, extra: lookupBroken }));
    await waitFor(() => logs.some((l) => l.msg === 'config reloaded'), 5000, 'the watched reload');
    expect(logs.find((l) => l.msg === 'config reloaded')).toMatchObject({ trigger: 'watch' });
    expect(await get(url, '/search/q')).toMatchObject({ status: 503 });

    // An editor that moves the file away and back: the gap is a rejected reload, not a crash.
    renameSync(file, `${file}.bak`);
    await waitFor(
      () => logs.some((l) => typeof l.msg === 'string' && l.msg.startsWith('config reload rejected')),
      5000,
      'the rejected reload of a missing file',
    );
    expect(await get(url, '/search/q')).toMatchObject({ status: 503 });
    write(configText({ upstream: up.url, extra: searchTool }));
    await waitFor(
      () => logs.filter((l) => l.msg === 'config reloaded').length === 2,
      5000,
      'the second reload',
    );
    expect(await get(url, '/search/q')).toMatchObject({ status: 200 });
    expect(await reloads(fg.admin.url)).toEqual({ ok: 2, rejected: 1 });
  });
});

describe('reload under load', () => {
  it('serves 200 requests across 5 reloads with no failed request', async () => {
    const up = await okUpstream(5);
    const { fg, write } = await startFromFile(configText({ upstream: up.url, extra: searchTool }));
    const { url } = fg.listeners[0]!;
    const pool = new Pool(url, { connections: 8 });
    onTestFinished(() => pool.close());
    const statuses: number[] = [];
    const errors: string[] = [];
    let sent = 0;
    const worker = async () => {
      while (sent < 200) {
        sent++;
        try {
          const res = await pool.request({ path: `/search/${sent}`, method: 'GET' });
          await res.body.text();
          statuses.push(res.statusCode);
        } catch (err) {
          errors.push((err as Error).message);
        }
      }
    };
    const load = Promise.all(Array.from({ length: 8 }, worker));
    for (let i = 0; i < 5; i++) {
      await waitFor(() => sent >= (i + 1) * 30, 10_000, `request ${(i + 1) * 30}`);
      // Alternate tool names and upstream settings: the tool table and the upstream pools change.
      const tools = i % 2 === 0 ? searchTool.replace('search', 'lookup') : searchTool;
      write(
        configText({ upstream: up.url, extra: `${tools}upstream: { connect_timeout_ms: ${5000 + i} }\n` }),
      );
      expect((await fg.reload()).ok).toBe(true);
    }
    await load;
    expect(errors).toEqual([]);
    expect(statuses.length).toBe(200);
    expect(statuses.every((s) => s === 200)).toBe(true);
    const m = await scrape(fg.admin.url);
    const served = (tool: string) =>
      m.get(
        `faultgate_requests_total{agent="127.0.0.1",tool="${tool}",outcome="success",injected="false"}`,
      ) ?? 0;
    expect(served('search')).toBeGreaterThan(0);
    expect(served('lookup')).toBeGreaterThan(0);
    expect(served('search') + served('lookup')).toBe(200);
    expect(await reloads(fg.admin.url)).toEqual({ ok: 5, rejected: 0 });
  });
});
