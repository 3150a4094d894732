import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/intercept.js';

function validate(yaml: string): { status: number | null; stdout: string; stderr: string; file: string } {
  const file = join(tempDir(), 'proxy.yaml');
  writeFileSync(file, yaml);
  const r = spawnSync(process.execPath, ['dist/src/cli.js', 'validate', '-c', file], { encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, file };
}

const config = (listen: string, token: string) => `version: 1
listeners:
  - name: main
    listen: ${listen}
    forward: true
    tls: intercept
    allow_hosts: ["api.example.com"]
admin: { listen: "127.0.0.1:9090", token: "${token}" }
`;

describe('validate: tls: intercept beyond loopback', () => {
  it('warns at the tls key when the listener is reachable beyond loopback without admin.token (still exit 0)', () => {
    const r = validate(config('0.0.0.0:8080', ''));
    expect(r.status).toBe(0);
    expect(r.stderr).toContain(`${r.file}:6:10  listeners[0].tls  warning: tls: intercept on 0.0.0.0:8080`);
    expect(r.stderr).toMatch(/admin\.token/);
    expect(r.stdout).toContain(': ok');
  });

  it('says nothing on loopback or with a token', () => {
    expect(validate(config('127.0.0.1:8080', '')).stderr).toBe('');
    expect(validate(config('0.0.0.0:8080', 's3cret')).stderr).toBe('');
  });
});
