import type { AddressInfo } from 'node:net';
import { onTestFinished } from 'vitest';
import { type AdminState, createAdminServer } from '../../src/admin/server.js';
import type { ControlPlane, SessionSafety } from '../../src/chaos/control.js';
import { EngineControl } from '../../src/chaos/control-plane.js';
import { ChaosEngine } from '../../src/chaos/engine.js';
import { parseConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { Metrics } from '../../src/observe/metrics.js';
import { configYaml } from '../helpers/index.js';

/** The config's `safety`, which fills what a session body omits (`single_tenant` as the SPEC's example). */
export const SAFETY_DEFAULTS: SessionSafety = {
  max_affected_requests: 1000,
  cascade_threshold: 20,
  auto_abort_on_cascade: true,
  max_blast_radius: 'single_tenant',
  max_active_faults: 100,
};

function testConfig(): Config {
  const safety = Object.entries(SAFETY_DEFAULTS)
    .map(([k, v]) => `${k}: ${v}`)
    .join(', ');
  // The upstream is never called: these tests drive the admin API only.
  const parsed = parseConfig(
    'admin.yaml',
    configYaml({ upstream: 'http://127.0.0.1:9' }, `safety: { ${safety} }\n`),
  );
  if (!parsed.ok) throw new Error(parsed.problems.map((p) => `${p.path} ${p.message}`).join('\n'));
  return parsed.config;
}

type ReloadAnswer = Awaited<ReturnType<ControlPlane['reload']>>;

/**
 * Reload is the one dependency the control plane takes from the instance (re-reading a file);
 * it is stubbed here and tested for real in test/e2e/reload.test.ts.
 */
export interface ReloadStub {
  calls: number;
  /** What the next reload answers. */
  result: ReloadAnswer;
}

export interface TestAdmin {
  url: string;
  port: number;
  /** The real control plane over a real engine, as a running instance builds it. */
  control: EngineControl;
  engine: ChaosEngine;
  reload: ReloadStub;
  state: AdminState;
}

/** A real admin server on 127.0.0.1 port 0 over the real session control plane, closed after the test. */
export async function startAdmin(extra: Partial<AdminState> = {}): Promise<TestAdmin> {
  const config = testConfig();
  const engine = new ChaosEngine(config);
  const reload: ReloadStub = { calls: 0, result: { ok: true, value: { config_hash: 'abc123' } } };
  const control = new EngineControl({
    engine: () => engine,
    config: () => config,
    reload: async () => {
      reload.calls++;
      return reload.result;
    },
  });
  const state: AdminState = { metrics: new Metrics(10), ready: () => true, token: '', control, ...extra };
  const server = createAdminServer(state);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  onTestFinished(async () => {
    // Sessions with a duration hold a timer; end them with the test.
    for (const s of engine.sessions.values()) s.end('stopped');
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, port, control, engine, reload, state };
}
export interface ApiResponse {
  status: number;
  headers: Headers;
  // biome-ignore lint/suspicious/noExplicitAny: test responses are inspected field by field
  body: any;
}

/** fetch with a JSON body (a string is sent as is), the answer parsed when it is JSON. */
export async function call(
  admin: TestAdmin,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<ApiResponse> {
  const init: RequestInit = { method, headers: { ...headers } };
  if (body !== undefined) {
    init.body = typeof body === 'string' ? body : JSON.stringify(body);
    (init.headers as Record<string, string>)['content-type'] = 'application/json';
  }
  const res = await fetch(`${admin.url}${path}`, init);
  const text = await res.text();
  const json = res.headers.get('content-type')?.startsWith('application/json') && text !== '';
  return { status: res.status, headers: res.headers, body: json ? JSON.parse(text) : text };
}
