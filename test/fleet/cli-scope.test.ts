import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { command as sessions } from '../../src/cli/sessions.js';
import { configYaml, startFaultgate, startUpstream } from '../helpers/index.js';
import { startRedis } from '../helpers/redis.js';
import { api, base, connected, errorSession, spawnFleet } from './helpers.js';

async function cli(argv: string[]): Promise<{ code: number | undefined; out: string }> {
  let out = '';
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      out += chunk.toString();
      cb();
    },
  });
  const code = await sessions.run(argv, { env: { FAULTGATE_FORCE_TTY: '1' }, stdout: sink, stderr: sink });
  return { code, out };
}

const row = (out: string, id: string) => out.split('\n').find((l) => l.startsWith(`${id} `)) ?? '';

describe('faultgate sessions says when a session is the fleet', () => {
  it('lists a SCOPE column in fleet mode, and start/abort say they act on every instance', async () => {
    const redis = await startRedis();
    const up = await startUpstream((_req, res) => res.end('ok'));
    const [a] = await spawnFleet(1, up.url, redis.url, { name: 'cli' });
    await connected([a!]);
    const id = (await api(a!.adminUrl, 'POST', '/chaos/sessions', errorSession)).json.id as string;
    const list = await cli(['list', '--admin', a!.adminUrl]);
    expect(list.code).toBe(0);
    expect(list.out.split('\n')[0]).toMatch(/^ID\s+NAME\s+SCOPE\s+STATE/);
    expect(row(list.out, id)).toMatch(/\sfleet\s+created\s/);
    // share_default is off: the config's default stays on this instance.
    expect(row(list.out, 'default')).toMatch(/\slocal\s+running\s/);
    const started = await cli(['start', id, '--admin', a!.adminUrl]);
    expect(started.out).toBe(`session fleet-day (${id}) is running on every instance of the fleet\n`);
    expect((await cli(['show', id, '--admin', a!.adminUrl])).out).toMatch(
      /^scope:\s+fleet \(every instance/m,
    );
    const json = JSON.parse((await cli(['show', 'default', '--admin', a!.adminUrl, '--json'])).out) as {
      scope: string;
    };
    expect(json.scope).toBe('local');
  });

  it('a standalone instance lists no SCOPE column', async () => {
    const up = await startUpstream((_req, res) => res.end('ok'));
    const fg = await startFaultgate(configYaml({ upstream: up.url }, base));
    const list = await cli(['list', '--admin', fg.adminUrl]);
    expect(list.out.split('\n')[0]).toMatch(/^ID\s+NAME\s+STATE/);
    const json = JSON.parse((await cli(['show', 'default', '--admin', fg.adminUrl, '--json'])).out) as object;
    expect(json).not.toHaveProperty('scope');
  });
});
