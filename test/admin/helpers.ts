import type { AddressInfo } from 'node:net';
import { onTestFinished } from 'vitest';
import { type AdminState, createAdminServer } from '../../src/admin/server.js';
import { Metrics } from '../../src/observe/metrics.js';
import { FakeControl } from './fake-control.js';

export interface TestAdmin {
  url: string;
  port: number;
  control: FakeControl;
  state: AdminState;
}

/** A real admin server on 127.0.0.1 port 0 with the in-memory control plane, closed after the test. */
export async function startAdmin(extra: Partial<AdminState> = {}): Promise<TestAdmin> {
  const control = new FakeControl();
  const state: AdminState = { metrics: new Metrics(10), ready: () => true, token: '', control, ...extra };
  const server = createAdminServer(state);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  onTestFinished(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, port, control, state };
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
