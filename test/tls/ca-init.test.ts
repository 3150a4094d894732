import { spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rootCertificates } from 'node:tls';
import { describe, expect, it, onTestFinished } from 'vitest';
import { command as caCommand } from '../../src/cli/ca.js';
import { loadCa } from '../../src/tls/ca.js';

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'faultgate-ca-'));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function run(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const sink = (write: (s: string) => void) =>
    ({
      write: (s: string) => {
        write(s);
        return true;
      },
    }) as unknown as NodeJS.WritableStream;
  const code = await caCommand.run(argv, {
    env: {},
    stdout: sink((s) => (out += s)),
    stderr: sink((s) => (err += s)),
  });
  return { code: code ?? 0, out, err };
}

describe('faultgate ca init', () => {
  it('writes ca.pem, ca-key.pem (0600) and bundle.pem, an ECDSA P-256 CA that says faultgate and testing', async () => {
    const dir = join(tempDir(), 'ca');
    const { code, out } = await run(['init', '--dir', dir]);
    expect(code).toBe(0);
    expect(statSync(join(dir, 'ca-key.pem')).mode & 0o777).toBe(0o600);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    const cert = new X509Certificate(readFileSync(join(dir, 'ca.pem')));
    expect(cert.ca).toBe(true);
    expect(cert.subject).toMatch(/faultgate/);
    expect(cert.subject).toMatch(/testing only/);
    expect(cert.publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    expect(cert.verify(cert.publicKey)).toBe(true);
    const days = (Date.parse(cert.validTo) - Date.parse(cert.validFrom)) / 86_400_000;
    expect(days).toBeGreaterThan(300);
    expect(days).toBeLessThanOrEqual(825);
    const bundle = readFileSync(join(dir, 'bundle.pem'), 'utf8');
    expect(bundle).toContain(readFileSync(join(dir, 'ca.pem'), 'utf8').trim());
    expect(bundle).toContain(rootCertificates[0]!);
    // The printed variables point at the right files.
    expect(out).toContain(`NODE_EXTRA_CA_CERTS=${join(dir, 'ca.pem')}`);
    for (const v of ['SSL_CERT_FILE', 'REQUESTS_CA_BUNDLE', 'CURL_CA_BUNDLE']) {
      expect(out).toContain(`${v}=${join(dir, 'bundle.pem')}`);
    }
    expect(out).toContain('update-ca-certificates');
    expect(out).toContain('security add-trusted-cert');
    // The key is never printed.
    expect(out).not.toContain('PRIVATE KEY');
    const ca = await loadCa(dir);
    expect(ca?.cert.subject).toContain('faultgate');
  });

  it('refuses to replace an existing CA without --force, and replaces it with --force', async () => {
    const dir = tempDir();
    expect((await run(['init', '--dir', dir])).code).toBe(0);
    const first = readFileSync(join(dir, 'ca.pem'), 'utf8');
    const refused = await run(['init', '--dir', dir]);
    expect(refused.code).toBe(2);
    expect(refused.err).toMatch(/already exists.*--force/);
    expect(readFileSync(join(dir, 'ca.pem'), 'utf8')).toBe(first);
    const forced = await run(['init', '--dir', dir, '--force']);
    expect(forced.code).toBe(0);
    expect(readFileSync(join(dir, 'ca.pem'), 'utf8')).not.toBe(first);
    expect(statSync(join(dir, 'ca-key.pem')).mode & 0o777).toBe(0o600);
  });

  it('rejects a missing subcommand and unknown options with exit 2', async () => {
    expect((await run([])).code).toBe(2);
    expect((await run(['init', '--nope'])).err).toMatch(/--nope/);
  });

  it('runs as the built CLI: faultgate ca init prints the trust variables', () => {
    const dir = tempDir();
    const r = spawnSync(process.execPath, ['dist/src/cli.js', 'ca', 'init', '--dir', dir], {
      encoding: 'utf8',
    });
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(`REQUESTS_CA_BUNDLE=${join(dir, 'bundle.pem')}`);
    const again = spawnSync(process.execPath, ['dist/src/cli.js', 'ca', 'init', '--dir', dir], {
      encoding: 'utf8',
    });
    expect(again.status).toBe(2);
    expect(again.stderr).not.toMatch(/\n\s+at /); // no stack trace
  });

  it('reports an unreadable CA with FAULTGATE_ERR_CA and without the key content', async () => {
    const dir = tempDir();
    await run(['init', '--dir', dir]);
    writeFileSync(
      join(dir, 'ca-key.pem'),
      '-----BEGIN PRIVATE KEY-----\nnotakey\n-----END PRIVATE KEY-----\n',
    );
    await expect(loadCa(dir)).rejects.toMatchObject({ code: 'FAULTGATE_ERR_CA' });
    await expect(loadCa(dir)).rejects.not.toThrow(/notakey/);
  });
});

describe('start with tls: intercept', () => {
  it('refuses to start when the CA cannot be created, with FAULTGATE_ERR_CA and exit 2', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'file'), 'not a directory');
    const config = join(dir, 'proxy.yaml');
    writeFileSync(
      config,
      `version: 1
listeners: [{ name: main, listen: "127.0.0.1:0", forward: true, tls: intercept, allow_hosts: ["127.0.0.1"] }]
admin: { listen: "127.0.0.1:0" }
ca: { dir: ${JSON.stringify(join(dir, 'file', 'ca'))} }
`,
    );
    const r = spawnSync(process.execPath, ['dist/src/cli.js', 'start', '-c', config], {
      encoding: 'utf8',
      timeout: 15_000,
    });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/cannot write the CA/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});
