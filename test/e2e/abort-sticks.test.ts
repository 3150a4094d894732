/**
 * Chaos you can always stop (issue 11, SPEC section 7), through a real `faultgate start`
 * process: an abort survives every kind of reload until resume, an API level survives reloads,
 * fault state survives a reload that did not change the experiment, header overrides obey the
 * abort, and waits in flight end at once.
 */
import { appendFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { configYaml, scrape, startUpstream, waitFor } from '../helpers/index.js';
import { type FaultgateProcess, spawnFaultgate } from '../helpers/process.js';

const ok = () => startUpstream((_req, res) => res.end('ok'));

const ALWAYS_503 = `chaos: { level: 1, header_overrides: true }
experiments:
  - name: boom
    type: error
    probability: 1
    config: { status: [503] }
`;

async function api(fg: FaultgateProcess, method: string, path: string, body?: unknown) {
  const res = await fetch(`${fg.adminUrl}${path}`, {
    method,
    ...(body === undefined
      ? {}
      : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
  });
  // biome-ignore lint/suspicious/noExplicitAny: test responses are inspected field by field
  const json: any = await res.json();
  return { status: res.status, body: json };
}

/** Sends `n` requests one after another; returns how many got an injected fault. */
async function injectedOf(fg: FaultgateProcess, n: number, headers: Record<string, string> = {}) {
  let injected = 0;
  for (let i = 0; i < n; i++) {
    const res = await fetch(`${fg.url}/x`, { headers });
    await res.arrayBuffer();
    if (res.headers.has('x-faultgate-injected')) injected++;
  }
  return injected;
}

/** configYaml with another log level (it writes `log: { level: debug }`). */
const yamlWith = (upstream: string, extra: string, level: string) =>
  configYaml({ upstream }, extra).replace('log: { level: debug }', `log: { level: ${level} }`);

const reloads = (fg: FaultgateProcess) => fg.logs.filter((l) => l.msg === 'config reloaded');

/** Waits for the next `config reloaded` line after `before` of them. */
async function reloaded(fg: FaultgateProcess, before: number) {
  await waitFor(() => reloads(fg).length > before, 10_000, 'config reloaded');
  return reloads(fg)[before]!;
}

describe('abort sticks across reloads', () => {
  it('abort-all then API reload, SIGHUP and a file change: no fault for 200 requests each; resume re-arms', async () => {
    const up = await ok();
    const yaml = configYaml({ upstream: up.url }, ALWAYS_503);
    const fg = await spawnFaultgate(yaml);
    expect(await injectedOf(fg, 3)).toBe(3);

    const aborted = await api(fg, 'POST', '/api/v1/chaos/abort-all', { reason: 'pager' });
    expect(aborted.body.aborted).toEqual([expect.objectContaining({ id: 'default', state: 'aborted' })]);
    const level = await api(fg, 'GET', '/api/v1/chaos/level');
    expect(level.body).toMatchObject({ level: 1, aborted: true, abort_reason: 'pager' });
    const ready = await api(fg, 'GET', '/readyz');
    expect(ready.body).toMatchObject({ status: 'ready', chaos: { aborted: true, abort_reason: 'pager' } });

    // 1. POST /api/v1/reload of the unchanged file.
    const viaApi = await api(fg, 'POST', '/api/v1/reload');
    expect(viaApi.status).toBe(200);
    expect(viaApi.body.changes.overrides.aborted).toMatchObject({ reason: 'pager' });
    expect(await injectedOf(fg, 200)).toBe(0);

    // 2. SIGHUP.
    let before = reloads(fg).length;
    fg.child.kill('SIGHUP');
    const line = await reloaded(fg, before);
    expect(line.trigger).toBe('signal');
    expect(await injectedOf(fg, 200)).toBe(0);

    // 3. The file changes on disk (as a ConfigMap sync does): the watcher reloads it.
    before = reloads(fg).length;
    appendFileSync(fg.file, '# synced\n');
    expect((await reloaded(fg, before)).trigger).toBe('watch');
    expect(await injectedOf(fg, 200)).toBe(0);
    expect((await api(fg, 'GET', '/api/v1/chaos/sessions/default')).body.state).toBe('aborted');

    const resumed = await api(fg, 'POST', '/api/v1/chaos/resume');
    expect(resumed.status).toBe(200);
    expect(resumed.body).toMatchObject({ resumed: { id: 'default', state: 'running' }, aborted: false });
    expect(await injectedOf(fg, 3)).toBe(3);
    expect((await api(fg, 'GET', '/readyz')).body.chaos).toMatchObject({ aborted: false });
  });

  it('an abort of default sticks too, and starting a session re-arms chaos (default stays aborted)', async () => {
    const up = await ok();
    const fg = await spawnFaultgate(configYaml({ upstream: up.url }, ALWAYS_503));
    expect((await api(fg, 'POST', '/api/v1/chaos/sessions/default/abort')).body.state).toBe('aborted');
    expect((await api(fg, 'GET', '/api/v1/chaos/level')).body).toMatchObject({ aborted: true });
    await api(fg, 'POST', '/api/v1/reload');
    expect(await injectedOf(fg, 20)).toBe(0);

    const created = await api(fg, 'POST', '/api/v1/chaos/sessions', {
      name: 'drill',
      experiments: [{ name: 'slow-429', type: 'rate_limit', probability: 1 }],
    });
    expect(created.status).toBe(201);
    await api(fg, 'POST', `/api/v1/chaos/sessions/${created.body.id}/start`);
    expect((await api(fg, 'GET', '/api/v1/chaos/level')).body).toMatchObject({ aborted: false });
    const res = await fetch(`${fg.url}/x`);
    await res.arrayBuffer();
    expect(res.status).toBe(429);
    expect(res.headers.get('x-faultgate-injected')).toBe('slow-429/rate_limit');
    expect((await api(fg, 'GET', '/api/v1/chaos/sessions/default')).body.state).toBe('aborted');
  });

  it('a header override is not applied after abort-all or at level 0, unless header_overrides: force', async () => {
    const up = await ok();
    const fg = await spawnFaultgate(configYaml({ upstream: up.url }, 'chaos: { header_overrides: true }\n'));
    const fault = { 'x-faultgate-fault': 'error;status=500' };
    expect(await injectedOf(fg, 2, fault)).toBe(2);
    await api(fg, 'POST', '/api/v1/chaos/abort-all');
    const refused = await fetch(`${fg.url}/x`, { headers: fault });
    expect(refused.status).toBe(200);
    expect(await refused.text()).toBe('ok');
    await api(fg, 'POST', '/api/v1/chaos/resume');
    expect(await injectedOf(fg, 2, fault)).toBe(2);
    await api(fg, 'PUT', '/api/v1/chaos/level', { level: 0 });
    expect(await injectedOf(fg, 5, fault)).toBe(0);

    const before = reloads(fg).length;
    writeFileSync(fg.file, configYaml({ upstream: up.url }, 'chaos: { header_overrides: force }\n'));
    await reloaded(fg, before);
    await api(fg, 'POST', '/api/v1/chaos/abort-all');
    expect(await injectedOf(fg, 2, fault)).toBe(2);
  });
});

describe('runtime state survives reloads', () => {
  it('an API level stays until the file level changes; the reload answer says so', async () => {
    const up = await ok();
    const fg = await spawnFaultgate(configYaml({ upstream: up.url }, 'chaos: { level: 1 }\n'));
    await api(fg, 'PUT', '/api/v1/chaos/level', { level: 0.5 });
    const same = await api(fg, 'POST', '/api/v1/reload');
    expect(same.body.changes.overrides).toEqual({ level: 0.5 });
    expect((await api(fg, 'GET', '/api/v1/chaos/level')).body).toMatchObject({
      level: 0.5,
      level_source: 'api',
    });

    // The file watcher reloads each rewrite; its log line lists what changed and what stays.
    let before = reloads(fg).length;
    writeFileSync(fg.file, yamlWith(up.url, 'chaos: { level: 1 }\n', 'info'));
    expect((await reloaded(fg, before)).overrides).toEqual({ level: 0.5 });
    expect((await api(fg, 'GET', '/api/v1/chaos/level')).body).toMatchObject({ level: 0.5 });

    before = reloads(fg).length;
    writeFileSync(fg.file, configYaml({ upstream: up.url }, 'chaos: { level: 2 }\n'));
    expect((await reloaded(fg, before)).overrides).toEqual({});
    expect((await api(fg, 'GET', '/api/v1/chaos/level')).body).toMatchObject({
      level: 2,
      level_source: 'config',
    });
  });

  it('a token bucket drained before a log-level-only reload is still drained; a changed experiment starts fresh', async () => {
    const up = await ok();
    const quota = (requests: number) => `experiments:
  - name: quota
    type: rate_limit
    config: { quota: { requests: ${requests}, window_s: 3600 } }
`;
    const fg = await spawnFaultgate(configYaml({ upstream: up.url }, quota(3)));
    expect(await injectedOf(fg, 5)).toBe(2); // 3 pass, then the bucket is empty

    // Only the log level changes.
    let before = reloads(fg).length;
    writeFileSync(fg.file, yamlWith(up.url, quota(3), 'info'));
    const kept = await reloaded(fg, before);
    expect(kept.experiments).toEqual({ added: [], removed: [], changed: [], kept: ['quota'] });
    expect(await injectedOf(fg, 3)).toBe(3);
    const affected = (await api(fg, 'GET', '/api/v1/chaos/sessions/default')).body.affected_requests;
    expect(affected).toBe(5);

    before = reloads(fg).length;
    writeFileSync(fg.file, configYaml({ upstream: up.url }, quota(4)));
    expect((await reloaded(fg, before)).experiments).toMatchObject({ changed: ['quota'], kept: [] });
    expect(await injectedOf(fg, 5)).toBe(1);
  });
});

describe('every wait hears the abort', () => {
  for (const phase of ['request', 'first_byte'] as const) {
    it(`a ${phase}-phase latency in flight ends at abort-all; the request goes on plainly`, async () => {
      const up = await ok();
      const fg = await spawnFaultgate(
        configYaml(
          { upstream: up.url },
          `experiments:
  - name: slow
    type: latency
    probability: 1
    config: { pattern: fixed, min_ms: 600000, phase: ${phase} }
`,
        ),
      );
      let answeredAt = 0;
      const pending = fetch(`${fg.url}/x`).then(async (res) => {
        answeredAt = performance.now();
        return { status: res.status, body: await res.text() };
      });
      // The request reaches its wait (the upstream answers at once for first_byte).
      await new Promise((r) => setTimeout(r, 300));
      const abortedAt = performance.now();
      await api(fg, 'POST', '/api/v1/chaos/abort-all');
      const res = await pending;
      expect(res).toEqual({ status: 200, body: 'ok' });
      expect(answeredAt).toBeGreaterThan(abortedAt);
    });
  }
});

describe('who stopped chaos', () => {
  it('counts session aborts by reason, and safety aborts only for safety reasons', async () => {
    const up = await ok();
    const fg = await spawnFaultgate(
      configYaml({ upstream: up.url }, `${ALWAYS_503}safety: { max_affected_requests: 2 }\n`),
    );
    await injectedOf(fg, 3);
    const m1 = await scrape(fg.adminUrl);
    expect(m1.get('faultgate_session_aborts_total{session="default",reason="max_affected"}')).toBe(1);
    expect(m1.get('faultgate_safety_aborts_total{session="default",reason="max_affected_requests"}')).toBe(1);
    expect((await api(fg, 'GET', '/api/v1/chaos/level')).body).toMatchObject({
      aborted: true,
      abort_reason: 'max_affected_requests',
    });

    await api(fg, 'POST', '/api/v1/chaos/resume');
    await api(fg, 'POST', '/api/v1/chaos/abort-all');
    const m2 = await scrape(fg.adminUrl);
    expect(m2.get('faultgate_session_aborts_total{session="default",reason="operator"}')).toBe(1);
    expect(m2.has('faultgate_safety_aborts_total{session="default",reason="operator"}')).toBe(false);
    expect(m2.has('faultgate_safety_aborts_total{session="default",reason="abort_all"}')).toBe(false);
  });
});
