import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { bearerToken } from '../../src/admin/auth.js';
import { call, startAdmin } from './helpers.js';

const TOKEN = 's3cret-token';
const bearer = (t: string) => ({ authorization: `Bearer ${t}` });

describe('bearerToken', () => {
  it('reads the token of a Bearer header, scheme in any case', () => {
    expect(bearerToken('Bearer abc')).toBe('abc');
    expect(bearerToken('bearer abc')).toBe('abc');
    expect(bearerToken('BEARER  abc ')).toBe('abc');
    expect(bearerToken('Basic abc')).toBeUndefined();
    expect(bearerToken('Bearer')).toBeUndefined();
    expect(bearerToken('Bearer a b')).toBeUndefined();
    expect(bearerToken(undefined)).toBeUndefined();
  });
});

describe('admin API auth', () => {
  it('401 without a token or with a wrong one, the same answer every time', async () => {
    const admin = await startAdmin({ token: TOKEN });
    const answers = [
      await call(admin, 'GET', '/api/v1/chaos/sessions'),
      await call(admin, 'GET', '/api/v1/chaos/sessions', undefined, bearer('wrong')),
      await call(admin, 'GET', '/api/v1/chaos/sessions', undefined, bearer(`${TOKEN}x`)),
      await call(admin, 'GET', '/api/v1/chaos/sessions', undefined, bearer(TOKEN.slice(0, -1))),
      await call(admin, 'GET', '/api/v1/chaos/sessions', undefined, { authorization: `Basic ${TOKEN}` }),
      await call(admin, 'GET', '/api/v1/chaos/sessions', undefined, { authorization: TOKEN }),
    ];
    for (const res of answers) {
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toBe('Bearer realm="faultgate"');
      expect(res.headers.get('content-type')).toBe('application/json');
      expect(res.body).toEqual({
        error: {
          code: 'FAULTGATE_ERR_UNAUTHORIZED',
          message: 'missing or wrong bearer token',
          source: 'faultgate',
        },
      });
    }
  });

  it('guards every /api route, unknown ones and mutations included, before reading anything', async () => {
    const admin = await startAdmin({ token: TOKEN });
    for (const [method, path] of [
      ['GET', '/api/v1/report'],
      ['GET', '/api/v1/nope'],
      ['POST', '/api/v1/chaos/abort-all'],
      ['PUT', '/api/v1/chaos/level'],
      ['POST', '/api/v1/reload'],
      ['DELETE', '/api/v1/chaos/sessions/default'],
    ] as const) {
      const body = method === 'GET' ? undefined : { level: 0 };
      expect((await call(admin, method, path, body)).status, `${method} ${path}`).toBe(401);
    }
    expect(admin.control.getLevel()).toBe(1);
    expect(admin.reload.calls).toBe(0);
    expect(admin.control.getSession('default')!.state).toBe('running');
  });

  it('lets the right token through', async () => {
    const admin = await startAdmin({ token: TOKEN });
    const res = await call(admin, 'PUT', '/api/v1/chaos/level', { level: 2 }, bearer(TOKEN));
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ level: 2 });
    expect((await call(admin, 'GET', '/api/v1/nope', undefined, bearer(TOKEN))).status).toBe(404);
  });

  it('keeps /healthz, /readyz and /metrics open', async () => {
    const admin = await startAdmin({ token: TOKEN });
    for (const path of ['/healthz', '/readyz', '/metrics']) {
      expect((await call(admin, 'GET', path)).status, path).toBe(200);
    }
  });

  it('needs no header when no token is configured', async () => {
    const admin = await startAdmin({ token: '' });
    expect((await call(admin, 'GET', '/api/v1/chaos/level')).status).toBe(200);
  });

  it('reads the token per request, so a reload can change it', async () => {
    const admin = await startAdmin({ token: TOKEN });
    admin.state.token = 'rotated';
    expect((await call(admin, 'GET', '/api/v1/chaos/level', undefined, bearer(TOKEN))).status).toBe(401);
    expect((await call(admin, 'GET', '/api/v1/chaos/level', undefined, bearer('rotated'))).status).toBe(200);
  });
});

const CURL = ['/usr/bin/curl', '/usr/local/bin/curl'].find((p) => existsSync(p));

describe.skipIf(!CURL)('with curl, as docs/api.md shows', () => {
  const curl = (args: string[]) =>
    new Promise<{ code: string; body: string }>((resolve, reject) => {
      execFile(CURL!, ['-s', '-w', '\n%{http_code}', ...args], (err, stdout) => {
        if (err) return reject(err);
        const cut = stdout.lastIndexOf('\n');
        resolve({ body: stdout.slice(0, cut), code: stdout.slice(cut + 1) });
      });
    });

  it('creates and starts a session with the token; -d without a content-type is read as JSON', async () => {
    const admin = await startAdmin({ token: TOKEN });
    const auth = ['-H', `Authorization: Bearer ${TOKEN}`];
    const body = '{"type":"latency","config":{"min_ms":500,"max_ms":2000},"probability":0.3}';
    const created = await curl([...auth, '-d', body, `${admin.url}/api/v1/chaos/sessions`]);
    expect(created.code).toBe('201');
    const id = JSON.parse(created.body).id as string;
    const started = await curl([...auth, '-X', 'POST', `${admin.url}/api/v1/chaos/sessions/${id}/start`]);
    expect(started.code).toBe('200');
    expect(JSON.parse(started.body).state).toBe('running');
    expect((await curl([`${admin.url}/api/v1/chaos/sessions`])).code).toBe('401');
    expect((await curl([`${admin.url}/metrics`])).code).toBe('200');
  });
});
