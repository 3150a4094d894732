/**
 * Graceful shutdown (SPEC section 9, issue 5): /readyz turns 503, listeners stop accepting,
 * requests in flight finish within the drain time, faults in flight are released, and the
 * process exits 0 on SIGTERM.
 */
import type { ChildProcess } from 'node:child_process';
import { Agent, request as httpRequest } from 'node:http';
import { writeFileSync } from 'node:fs';
import { describe, expect, it, onTestFinished } from 'vitest';
import { configYaml, startFaultgate, startUpstream, waitFor } from '../helpers/index.js';
import { spawnFaultgate } from '../helpers/process.js';

interface Reply {
  status?: number;
  body?: string;
  error?: string;
  ms: number;
}

/**
 * A drain deadline the test cannot reach (vitest stops a test after 20 s): when close()
 * resolves, it did so because the work was done, not because the deadline passed. No upper
 * wall-clock bound is needed.
 */
const NEVER_MS = 600_000;

/** One GET on a fresh connection: the response, or the socket error code. */
function get(url: string, path: string, headers: Record<string, string> = {}): Promise<Reply> {
  const started = Date.now();
  return new Promise((resolve) => {
    const req = httpRequest(new URL(path, url), { agent: false, headers }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode, body, ms: Date.now() - started }));
      res.on('error', (e: NodeJS.ErrnoException) =>
        resolve({ status: res.statusCode, error: e.code ?? e.message, ms: Date.now() - started }),
      );
    });
    req.on('error', (e: NodeJS.ErrnoException) =>
      resolve({ error: e.code ?? e.message, ms: Date.now() - started }),
    );
    req.end();
  });
}

/** An upstream that answers `ok` after the delay in the path (`/wait/500`), 0 otherwise. */
async function slowUpstream() {
  let received = 0;
  const up = await startUpstream((req, res) => {
    received++;
    const ms = Number(/^\/wait\/(\d+)/.exec(req.url ?? '')?.[1] ?? 0);
    const timer = setTimeout(() => res.end('ok'), ms);
    res.on('close', () => clearTimeout(timer));
  });
  return { ...up, received: () => received };
}

function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
}

describe('close() drains', () => {
  it('lets a slow request finish while /readyz answers 503 and new connections are refused', async () => {
    const up = await slowUpstream();
    const { fg, url, adminUrl } = await startFaultgate(configYaml({ upstream: up.url }));
    expect((await fetch(`${adminUrl}/readyz`)).status).toBe(200);
    const slow = get(url, '/wait/500');
    await waitFor(() => up.received() === 1, 5000, 'the request to reach the upstream');

    const closing = fg.close(NEVER_MS);
    const ready = await fetch(`${adminUrl}/readyz`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toMatchObject({ status: 'not ready' });
    expect(await get(url, '/')).toMatchObject({ error: 'ECONNREFUSED' });

    expect(await slow).toMatchObject({ status: 200, body: 'ok' });
    // Done when the request was, not at the drain deadline.
    await closing;
  });

  it('closes kept-alive connections once idle instead of waiting for the drain deadline', async () => {
    const up = await slowUpstream();
    const { fg, url } = await startFaultgate(configYaml({ upstream: up.url }));
    const idle = new Agent({ keepAlive: true });
    const busy = new Agent({ keepAlive: true });
    onTestFinished(() => {
      idle.destroy();
      busy.destroy();
    });
    const keepAliveGet = (agent: Agent, path: string) =>
      new Promise<{ status?: number; connection?: string; error?: string }>((resolve) => {
        const req = httpRequest(new URL(path, url), { agent }, (res) => {
          res.resume();
          res.on('end', () => resolve({ status: res.statusCode, connection: res.headers.connection }));
        });
        req.on('error', (e: NodeJS.ErrnoException) => resolve({ error: e.code ?? e.message }));
        req.end();
      });
    expect(await keepAliveGet(idle, '/')).toEqual({ status: 200, connection: 'keep-alive' });
    const slow = keepAliveGet(busy, '/wait/300');
    await waitFor(() => up.received() === 2, 5000, 'the slow request to reach the upstream');
    await fg.close(NEVER_MS);
    expect(await slow).toMatchObject({ status: 200 });
  });

  it('releases a hang at once instead of waiting for the drain deadline', async () => {
    const up = await slowUpstream();
    const { fg, url } = await startFaultgate(
      configYaml({ upstream: up.url }, 'chaos: { header_overrides: true }\n'),
    );
    const hung = get(url, '/', { 'x-faultgate-fault': 'timeout;then=hang' });
    await waitFor(() => fg.metrics.faults.activeCount() === 1, 5000, 'the hang to begin');
    await fg.close(NEVER_MS);
    const reply = await hung;
    expect(reply.status).toBeUndefined();
    expect(reply.error).toBeDefined();
    expect(up.received()).toBe(0);
  });

  it('cuts an injected delay short: the request goes on to the upstream and completes', async () => {
    const up = await slowUpstream();
    // A delay longer than the test may run: only the shutdown can cut it short. A delay counts
    // as active once it is over, so a 1 ms delay before it tells the test the long one began.
    const { fg, url } = await startFaultgate(
      configYaml(
        { upstream: up.url },
        `experiments:
  - { name: marker, type: latency, probability: 1, config: { pattern: fixed, min_ms: 1 } }
  - { name: long, type: latency, probability: 1, config: { pattern: fixed, min_ms: ${NEVER_MS} } }
`,
      ),
    );
    const delayed = get(url, '/');
    await waitFor(() => fg.metrics.faults.activeCount() === 1, 5000, 'the delay to begin');
    await fg.close(NEVER_MS);
    expect(await delayed).toMatchObject({ status: 200, body: 'ok' });
    expect(up.received()).toBe(1);
  });

  it('cuts a request still running when the drain time ends', async () => {
    const up = await slowUpstream();
    const { fg, url } = await startFaultgate(configYaml({ upstream: up.url }));
    // The upstream would answer after the test's end: only the drain deadline can end the request.
    const slow = get(url, `/wait/${NEVER_MS}`);
    await waitFor(() => up.received() === 1, 5000, 'the request to reach the upstream');
    const started = Date.now();
    await fg.close(300);
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    const reply = await slow;
    expect(reply.status).toBeUndefined();
    expect(reply.error).toBeDefined();
    // The upstream request was cancelled too.
    await waitFor(() => up.sockets.size === 0, 5000, 'the upstream connection to close');
  });
});

describe('the faultgate process', () => {
  const yaml = (upstream: string, extra = '') =>
    `version: 1\nlisteners:\n  - name: main\n    listen: 127.0.0.1:0\n    upstream: ${upstream}\nadmin: { listen: 127.0.0.1:0 }\n${extra}`;

  it('drains a slow request on SIGTERM, then exits 0', async () => {
    const up = await slowUpstream();
    const proc = await spawnFaultgate(yaml(up.url));
    const slow = get(proc.url, '/wait/500');
    await waitFor(() => up.received() === 1, 5000, 'the request to reach the upstream');
    const exit = exited(proc.child);
    proc.child.kill('SIGTERM');
    expect(await slow).toMatchObject({ status: 200, body: 'ok' });
    expect(await exit).toEqual({ code: 0, signal: null });
    expect(proc.stderr()).toBe('');
  });

  it('exits at once on a second signal', async () => {
    const up = await slowUpstream();
    const proc = await spawnFaultgate(yaml(up.url));
    // Neither the upstream nor the 10 s drain would end this within the test: only SIGINT can.
    const slow = get(proc.url, `/wait/${NEVER_MS}`);
    await waitFor(() => up.received() === 1, 5000, 'the request to reach the upstream');
    const exit = exited(proc.child);
    proc.child.kill('SIGTERM');
    await waitFor(() => proc.logs.some((l) => l.msg === 'shutting down: draining in-flight requests'), 5000);
    proc.child.kill('SIGINT');
    expect(await exit).toEqual({ code: 130, signal: null });
    expect((await slow).error).toBeDefined();
  });

  it('applies a changed file on SIGHUP', async () => {
    const up = await slowUpstream();
    const proc = await spawnFaultgate(yaml(up.url));
    expect(await get(proc.url, '/')).toMatchObject({ status: 200 });
    writeFileSync(
      proc.file,
      yaml(
        up.url,
        'experiments:\n  - name: down\n    type: error\n    probability: 1\n    config: { status: 503 }\n',
      ),
    );
    proc.child.kill('SIGHUP');
    await waitFor(
      () => proc.logs.some((l) => l.msg === 'config reloaded' && l.trigger === 'signal'),
      5000,
      'the SIGHUP reload',
    );
    expect(await get(proc.url, '/')).toMatchObject({ status: 503 });
    const metrics = await (await fetch(`${proc.adminUrl}/metrics`)).text();
    expect(metrics).toMatch(/^faultgate_config_reloads_total\{result="ok"\} [12]$/m);
  });
});
