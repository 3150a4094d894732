import { request } from 'node:http';
import { describe, expect, it } from 'vitest';
import { experimentSchema } from '../../src/config/schema.js';
import { faultAliases, faultTypes } from '../../src/faults/registry.js';
import { type ApiResponse, call, startAdmin, type TestAdmin } from './helpers.js';

const SPEC_BODY = {
  name: 'game-day',
  experiments: [
    { name: 'slow-search', type: 'latency', probability: 0.5, config: { min_ms: 10, max_ms: 20 } },
  ],
  targeting: { agent_ids: ['planner'], tool_names: ['search'], tenant_ids: [], percentage: 1 },
  safety: { max_affected_requests: 50 },
  duration_s: 120,
};

const PISAMA_BODY = {
  type: 'latency',
  config: { min_ms: 500, max_ms: 2000 },
  probability: 0.3,
  agent_ids: ['planner'],
  safety: { max_blast_radius: 'SINGLE_AGENT', MAX_AFFECTED_REQUESTS: 7 },
};

function expectError(res: ApiResponse, status: number, code: string): void {
  expect(res.status).toBe(status);
  expect(res.headers.get('content-type')).toBe('application/json');
  expect(res.body.error).toMatchObject({ code, source: 'faultgate' });
  expect(typeof res.body.error.message).toBe('string');
}

async function create(admin: TestAdmin, body: unknown = SPEC_BODY): Promise<string> {
  const res = await call(admin, 'POST', '/api/v1/chaos/sessions', body);
  expect(res.status).toBe(201);
  return res.body.id;
}

/** A POST whose body is sent in chunks without a content-length, as `curl -T -` would. */
function chunkedPost(
  admin: TestAdmin,
  path: string,
  chunks: Buffer[],
): Promise<Pick<ApiResponse, 'status' | 'body'>> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: admin.port,
        path,
        method: 'POST',
        headers: { 'transfer-encoding': 'chunked' },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          text += c;
        });
        res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(text) }));
      },
    );
    req.on('error', reject);
    for (const c of chunks) req.write(c);
    req.end();
  });
}

describe('sessions', () => {
  it('creates a SPEC-shaped session (201) and walks it created -> running -> stopped', async () => {
    const admin = await startAdmin();
    const created = await call(admin, 'POST', '/api/v1/chaos/sessions', SPEC_BODY);
    expect(created.status).toBe(201);
    expect(created.headers.get('content-type')).toBe('application/json');
    expect(created.body).toMatchObject({
      name: 'game-day',
      state: 'created',
      abort_reason: null,
      affected_requests: 0,
      targeting: { agent_ids: ['planner'], tool_names: ['search'], tenant_ids: ['*'], percentage: 1 },
      safety: { max_affected_requests: 50, max_blast_radius: 'single_tenant', cascade_threshold: 20 },
      duration_s: 120,
      started_at: null,
      ended_at: null,
    });
    expect(created.body.experiments[0]).toMatchObject({ name: 'slow-search', type: 'latency' });
    const id = created.body.id as string;

    const list = await call(admin, 'GET', '/api/v1/chaos/sessions');
    expect(list.status).toBe(200);
    expect(list.body.sessions.map((s: { id: string }) => s.id)).toEqual(['default', id]);

    expect((await call(admin, 'GET', `/api/v1/chaos/sessions/${id}`)).body.state).toBe('created');
    const started = await call(admin, 'POST', `/api/v1/chaos/sessions/${id}/start`);
    expect(started.status).toBe(200);
    expect(started.body.state).toBe('running');
    expect(started.body.started_at).not.toBeNull();
    const stopped = await call(admin, 'POST', `/api/v1/chaos/sessions/${id}/stop`);
    expect(stopped.status).toBe(200);
    expect(stopped.body).toMatchObject({ state: 'stopped', abort_reason: null });
    expect(stopped.body.ended_at).not.toBeNull();
  });

  it('accepts a Pisama-style body as it is, upper-case blast radius included', async () => {
    const admin = await startAdmin();
    const res = await call(admin, 'POST', '/api/v1/chaos/sessions', PISAMA_BODY);
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      name: 'latency',
      state: 'created',
      targeting: { agent_ids: ['planner'], tool_names: ['*'], tenant_ids: ['*'], percentage: 1 },
      safety: { max_blast_radius: 'single_agent', max_affected_requests: 7 },
    });
    expect(res.body.experiments).toEqual([
      expect.objectContaining({ name: 'latency', type: 'latency', probability: 0.3 }),
    ]);
    expect(res.body.experiments[0].config).toMatchObject({ min_ms: 500, max_ms: 2000 });
  });

  it('aborts a created or running session, and answers 409 to transitions that make no sense', async () => {
    const admin = await startAdmin();
    const a = await create(admin);
    const aborted = await call(admin, 'POST', `/api/v1/chaos/sessions/${a}/abort`);
    expect(aborted.status).toBe(200);
    expect(aborted.body).toMatchObject({ state: 'aborted', abort_reason: 'manual' });
    for (const action of ['start', 'stop', 'abort']) {
      expectError(
        await call(admin, 'POST', `/api/v1/chaos/sessions/${a}/${action}`),
        409,
        'FAULTGATE_ERR_CONFLICT',
      );
    }
    const b = await create(admin, { ...SPEC_BODY, name: 'second' });
    expectError(await call(admin, 'POST', `/api/v1/chaos/sessions/${b}/stop`), 409, 'FAULTGATE_ERR_CONFLICT');
    await call(admin, 'POST', `/api/v1/chaos/sessions/${b}/start`);
    const conflict = await call(admin, 'POST', `/api/v1/chaos/sessions/${b}/start`);
    expectError(conflict, 409, 'FAULTGATE_ERR_CONFLICT');
    expect(conflict.body.error.message).toBe('cannot start a session that is running');
  });

  it('answers 409 when the control plane refuses a create (a live session has that name)', async () => {
    const admin = await startAdmin();
    await create(admin);
    expectError(
      await call(admin, 'POST', '/api/v1/chaos/sessions', SPEC_BODY),
      409,
      'FAULTGATE_ERR_CONFLICT',
    );
  });

  it('deletes a session (a running one aborted first) and 404s afterwards', async () => {
    const admin = await startAdmin();
    const id = await create(admin);
    await call(admin, 'POST', `/api/v1/chaos/sessions/${id}/start`);
    const deleted = await call(admin, 'DELETE', `/api/v1/chaos/sessions/${id}`);
    expect(deleted.status).toBe(200);
    expect(deleted.body).toMatchObject({ id, state: 'aborted', abort_reason: 'deleted' });
    expectError(await call(admin, 'GET', `/api/v1/chaos/sessions/${id}`), 404, 'FAULTGATE_ERR_NOT_FOUND');
    expectError(await call(admin, 'DELETE', `/api/v1/chaos/sessions/${id}`), 404, 'FAULTGATE_ERR_NOT_FOUND');
  });

  it('404s every route on an unknown id, %-encoded ids included', async () => {
    const admin = await startAdmin();
    for (const [method, path] of [
      ['GET', '/api/v1/chaos/sessions/nope'],
      ['DELETE', '/api/v1/chaos/sessions/nope'],
      ['POST', '/api/v1/chaos/sessions/nope/start'],
      ['POST', '/api/v1/chaos/sessions/nope/stop'],
      ['POST', '/api/v1/chaos/sessions/nope/abort'],
      ['GET', '/api/v1/chaos/sessions/%E0%A4%A'],
    ] as const) {
      expectError(await call(admin, method, path), 404, 'FAULTGATE_ERR_NOT_FOUND');
    }
    const res = await call(admin, 'GET', '/api/v1/chaos/sessions/a%20b');
    expect(res.body.error.message).toBe('no session "a b"');
  });
});

describe('bad bodies', () => {
  it('400 lists every schema problem with its path', async () => {
    const admin = await startAdmin();
    const res = await call(admin, 'POST', '/api/v1/chaos/sessions', {
      name: '',
      experiments: [{ name: 'e', type: 'latency', config: { min_ms: 500, max_ms: 100 } }],
      targeting: { percentage: 3 },
      safety: { MAX_BLAST_RADIUS: 'GALAXY' },
      colour: 'red',
    });
    expectError(res, 400, 'FAULTGATE_ERR_BAD_REQUEST');
    expect(res.body.error.problems.map((p: { path: string }) => p.path).sort()).toEqual(
      [
        'name',
        'experiments[0].config.max_ms',
        'targeting.percentage',
        'safety.MAX_BLAST_RADIUS',
        'colour',
      ].sort(),
    );
    for (const p of res.body.error.problems) expect(p.message).toEqual(expect.any(String));
  });

  it('400 for a Pisama body with problems, paths at the top level', async () => {
    const admin = await startAdmin();
    const res = await call(admin, 'POST', '/api/v1/chaos/sessions', {
      type: 'rate_limit',
      config: { status: 'soon' },
      probability: -1,
    });
    expectError(res, 400, 'FAULTGATE_ERR_BAD_REQUEST');
    expect(res.body.error.problems.map((p: { path: string }) => p.path).sort()).toEqual([
      'config.status',
      'probability',
    ]);
  });

  it('400 for invalid JSON, an empty body or a non-object', async () => {
    const admin = await startAdmin();
    const invalid = await call(admin, 'POST', '/api/v1/chaos/sessions', '{"name": ');
    expectError(invalid, 400, 'FAULTGATE_ERR_BAD_REQUEST');
    expect(invalid.body.error.message).toMatch(/^invalid JSON/);
    expect(invalid.body.error.problems[0].path).toBe('(root)');
    expectError(await call(admin, 'POST', '/api/v1/chaos/sessions'), 400, 'FAULTGATE_ERR_BAD_REQUEST');
    const array = await call(admin, 'POST', '/api/v1/chaos/sessions', '[1]');
    expectError(array, 400, 'FAULTGATE_ERR_BAD_REQUEST');
    expect(array.body.error.problems).toEqual([{ path: '(root)', message: 'expected a JSON object' }]);
  });

  it('413 for a body over 64 KiB, declared or chunked; 64 KiB itself is read', async () => {
    const admin = await startAdmin();
    const big = JSON.stringify({ name: 'x', padding: 'a'.repeat(64 * 1024) });
    const declared = await call(admin, 'POST', '/api/v1/chaos/sessions', big);
    expectError(declared, 413, 'FAULTGATE_ERR_BODY_TOO_LARGE');
    expect(declared.headers.get('connection')).toBe('close');
    // Far over the limit: the client still gets to read the answer.
    const huge = await call(admin, 'POST', '/api/v1/chaos/sessions', 'x'.repeat(8 * 1024 * 1024));
    expectError(huge, 413, 'FAULTGATE_ERR_BODY_TOO_LARGE');
    const chunk = Buffer.alloc(8 * 1024, 'a');
    const chunked = await chunkedPost(admin, '/api/v1/chaos/sessions', Array(9).fill(chunk));
    expect(chunked.status).toBe(413);
    expect(chunked.body.error.code).toBe('FAULTGATE_ERR_BODY_TOO_LARGE');
    // Exactly at the limit: read and parsed (then rejected by the schema, not by size).
    const filler = 64 * 1024 - JSON.stringify({ name: 'x', pad: '' }).length;
    const atLimit = JSON.stringify({ name: 'x', pad: 'a'.repeat(filler) });
    expect(Buffer.byteLength(atLimit)).toBe(64 * 1024);
    const res = await call(admin, 'POST', '/api/v1/chaos/sessions', atLimit);
    expectError(res, 400, 'FAULTGATE_ERR_BAD_REQUEST');
    // The server is still serving after the refusals.
    expect((await call(admin, 'GET', '/api/v1/chaos/level')).status).toBe(200);
  });
});

describe('abort-all and level', () => {
  it('aborts every running session, default included, with the reason given or abort_all', async () => {
    const admin = await startAdmin();
    const a = await create(admin);
    const b = await create(admin, { ...SPEC_BODY, name: 'other' });
    await call(admin, 'POST', `/api/v1/chaos/sessions/${a}/start`);
    const res = await call(admin, 'POST', '/api/v1/chaos/abort-all', { reason: 'pager went off' });
    expect(res.status).toBe(200);
    expect(res.body.aborted.map((s: { id: string }) => s.id).sort()).toEqual(['default', a].sort());
    expect(res.body.aborted.every((s: { abort_reason: string }) => s.abort_reason === 'pager went off')).toBe(
      true,
    );
    expect((await call(admin, 'GET', `/api/v1/chaos/sessions/${b}`)).body.state).toBe('created');
    await call(admin, 'POST', `/api/v1/chaos/sessions/${b}/start`);
    const bare = await call(admin, 'POST', '/api/v1/chaos/abort-all');
    expect(bare.status).toBe(200);
    expect(bare.body.aborted).toEqual([expect.objectContaining({ id: b, abort_reason: 'abort_all' })]);
    expect((await call(admin, 'POST', '/api/v1/chaos/abort-all', {})).body.aborted).toEqual([]);
  });

  it('resume: no body or {} re-arms and answers the session and the chaos status; anything else is 400', async () => {
    const admin = await startAdmin();
    await call(admin, 'POST', '/api/v1/chaos/abort-all', { reason: 'pager' });
    expect((await call(admin, 'GET', '/api/v1/chaos/level')).body).toMatchObject({
      aborted: true,
      abort_reason: 'pager',
    });
    const bad = await call(admin, 'POST', '/api/v1/chaos/resume', { force: true });
    expectError(bad, 400, 'FAULTGATE_ERR_BAD_REQUEST');
    const res = await call(admin, 'POST', '/api/v1/chaos/resume');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ resumed: { id: 'default', state: 'running' }, aborted: false });
    expect((await call(admin, 'POST', '/api/v1/chaos/resume', {})).status).toBe(200);
    expect((await call(admin, 'GET', '/api/v1/chaos/resume')).status).toBe(405);
  });

  it('400 for a bad abort-all body', async () => {
    const admin = await startAdmin();
    const res = await call(admin, 'POST', '/api/v1/chaos/abort-all', { reason: 5, why: 'x' });
    expectError(res, 400, 'FAULTGATE_ERR_BAD_REQUEST');
    expect(res.body.error.problems.map((p: { path: string }) => p.path).sort()).toEqual(['reason', 'why']);
    expectError(
      await call(admin, 'POST', '/api/v1/chaos/abort-all', 'nope'),
      400,
      'FAULTGATE_ERR_BAD_REQUEST',
    );
  });

  it('reads and sets the level', async () => {
    const admin = await startAdmin();
    expect((await call(admin, 'GET', '/api/v1/chaos/level')).body).toMatchObject({ level: 1 });
    const put = await call(admin, 'PUT', '/api/v1/chaos/level', { level: 0.5 });
    expect(put.status).toBe(200);
    expect(put.body).toMatchObject({ level: 0.5 });
    expect(admin.control.level).toBe(0.5);
    expect((await call(admin, 'PUT', '/api/v1/chaos/level', { level: 10 })).status).toBe(200);
    expect((await call(admin, 'PUT', '/api/v1/chaos/level', { level: 0 })).body).toMatchObject({ level: 0 });
  });

  it('400 for a level out of 0..10 or a bad body, every problem listed', async () => {
    const admin = await startAdmin();
    for (const level of [-0.1, 10.5, '1', null]) {
      const res = await call(admin, 'PUT', '/api/v1/chaos/level', { level });
      expectError(res, 400, 'FAULTGATE_ERR_BAD_REQUEST');
      expect(res.body.error.problems).toEqual([{ path: 'level', message: 'expected a number 0..10' }]);
    }
    const res = await call(admin, 'PUT', '/api/v1/chaos/level', { lvl: 2 });
    expect(res.body.error.problems.map((p: { path: string }) => p.path).sort()).toEqual(['level', 'lvl']);
    expectError(await call(admin, 'PUT', '/api/v1/chaos/level', '{'), 400, 'FAULTGATE_ERR_BAD_REQUEST');
    expectError(await call(admin, 'PUT', '/api/v1/chaos/level'), 400, 'FAULTGATE_ERR_BAD_REQUEST');
    expect(admin.control.level).toBe(1);
  });
});

describe('experiment types', () => {
  it('lists every fault type with a JSON Schema, an example that validates and the aliases', async () => {
    const admin = await startAdmin();
    const res = await call(admin, 'GET', '/api/v1/chaos/experiment-types');
    expect(res.status).toBe(200);
    const types = res.body.types as {
      type: string;
      aliases: { name: string; defaults: Record<string, unknown> }[];
      config_schema: { type: string; properties: Record<string, unknown>; additionalProperties: boolean };
      example: { name: string; type: string; config: Record<string, unknown> };
    }[];
    expect(types.map((t) => t.type)).toEqual(faultTypes);
    for (const t of types) {
      expect(t.config_schema).toMatchObject({ type: 'object', additionalProperties: false });
      expect(t.example.type).toBe(t.type);
      const parsed = experimentSchema.safeParse(t.example);
      expect(parsed.success, `${t.type}: ${JSON.stringify(parsed.error?.issues)}`).toBe(true);
      for (const key of Object.keys(t.example.config))
        expect(Object.keys(t.config_schema.properties)).toContain(key);
    }
    const aliases = types.flatMap((t) => t.aliases.map((a) => [a.name, t.type]));
    expect(Object.fromEntries(aliases)).toEqual(
      Object.fromEntries(Object.entries(faultAliases).map(([name, a]) => [name, a.type])),
    );
    expect(types.find((t) => t.type === 'error')!.aliases).toEqual([
      { name: 'tool_unavailable', defaults: { status: 503 } },
    ]);
    // timeout.then is a transform: the schema shows what users may write.
    const then = types.find((t) => t.type === 'timeout')!.config_schema.properties.then as {
      anyOf: unknown[];
    };
    expect(then.anyOf).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ const: 'hang' }),
        expect.objectContaining({ const: 504 }),
      ]),
    );
  });
});

describe('reload', () => {
  it('200 with the new config hash', async () => {
    const admin = await startAdmin();
    const res = await call(admin, 'POST', '/api/v1/reload');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ result: 'ok', config_hash: 'abc123' });
    expect(admin.control.reloads).toBe(1);
  });

  it('400 FAULTGATE_ERR_CONFIG with every problem located', async () => {
    const admin = await startAdmin();
    const problems = [
      { file: 'proxy.yaml', line: 3, col: 13, path: 'listeners[0].listen', message: 'must be HOST:PORT' },
      { file: 'proxy.yaml', line: 9, col: 5, path: 'experiments[0].type', message: 'unknown fault type "x"' },
    ];
    admin.control.reloadResult = { ok: false, error: 'invalid', message: 'invalid configuration', problems };
    const res = await call(admin, 'POST', '/api/v1/reload');
    expectError(res, 400, 'FAULTGATE_ERR_CONFIG');
    expect(res.body.error.problems).toEqual(problems);
    expect(res.body.error.message).toBe(
      'proxy.yaml:3:13  listeners[0].listen  must be HOST:PORT\nproxy.yaml:9:5  experiments[0].type  unknown fault type "x"',
    );
  });

  it('409 when the control plane cannot reload', async () => {
    const admin = await startAdmin();
    admin.control.reloadResult = { ok: false, error: 'conflict', message: 'started without a config file' };
    expectError(await call(admin, 'POST', '/api/v1/reload'), 409, 'FAULTGATE_ERR_CONFLICT');
  });
});

describe('routing', () => {
  it('404 for unknown /api routes', async () => {
    const admin = await startAdmin();
    for (const path of [
      '/api',
      '/api/v1',
      '/api/v2/chaos/sessions',
      '/api/v1/chaos/sessions/x/explode',
      '/api/v1/chaos/sessions/',
    ]) {
      expectError(await call(admin, 'GET', path), 404, 'FAULTGATE_ERR_NOT_FOUND');
    }
  });

  it('405 with Allow for a wrong method', async () => {
    const admin = await startAdmin();
    const cases: [string, string, string][] = [
      ['DELETE', '/api/v1/chaos/sessions', 'GET, POST, HEAD'],
      ['POST', '/api/v1/chaos/sessions/default', 'GET, DELETE, HEAD'],
      ['GET', '/api/v1/chaos/sessions/default/start', 'POST'],
      ['GET', '/api/v1/chaos/abort-all', 'POST'],
      ['POST', '/api/v1/chaos/level', 'GET, PUT, HEAD'],
      ['PATCH', '/api/v1/chaos/experiment-types', 'GET, HEAD'],
      ['GET', '/api/v1/reload', 'POST'],
      ['POST', '/api/v1/report', 'GET, HEAD'],
    ];
    for (const [method, path, allow] of cases) {
      const res = await call(admin, method, path);
      expect(res.status, `${method} ${path}`).toBe(405);
      expect(res.headers.get('allow')).toBe(allow);
      expect(res.body.error.message).toBe(`${method} is not allowed on ${path}`);
    }
  });

  it('answers HEAD on GET routes without a body', async () => {
    const admin = await startAdmin();
    const res = await fetch(`${admin.url}/api/v1/chaos/level`, { method: 'HEAD' });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('');
  });

  it('without a control plane: chaos routes 404, the report route still answers', async () => {
    const admin = await startAdmin({ control: undefined });
    const res = await call(admin, 'GET', '/api/v1/chaos/sessions');
    expectError(res, 404, 'FAULTGATE_ERR_NOT_FOUND');
    expect(res.body.error.message).toMatch(/control plane is not available/);
    expect((await call(admin, 'GET', '/api/v1/report')).body.error.message).toMatch(
      /reports are not available/,
    );
  });

  it('keeps the open endpoints as they were', async () => {
    const admin = await startAdmin({ ready: () => false });
    expect((await call(admin, 'GET', '/healthz')).body).toEqual({ status: 'ok' });
    expect((await call(admin, 'GET', '/readyz')).status).toBe(503);
    expect((await call(admin, 'GET', '/metrics')).status).toBe(200);
    expect((await call(admin, 'POST', '/healthz')).status).toBe(405);
    expectError(await call(admin, 'GET', '/nope'), 404, 'FAULTGATE_ERR_NOT_FOUND');
  });
});
