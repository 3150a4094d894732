import { X509Certificate } from 'node:crypto';
import { join } from 'node:path';
import { type AddressInfo, createServer as createNetServer } from 'node:net';
import { connect, type SecureContext, TLSSocket } from 'node:tls';
import { describe, expect, it, onTestFinished } from 'vitest';
import { type CertificateAuthority, ensureCa } from '../../src/tls/ca.js';
import { LeafCertificates } from '../../src/tls/leaf-cache.js';
import { tempDir } from '../helpers/intercept.js';

async function ca(): Promise<CertificateAuthority> {
  return (await ensureCa(join(tempDir(), 'ca'))).ca;
}

/** The certificate a TLS server with `context` presents, as a verifying client sees it. */
async function served(context: SecureContext, caPem: string, servername?: string): Promise<X509Certificate> {
  const server = createNetServer((raw) => {
    const tls = new TLSSocket(raw, { isServer: true, secureContext: context });
    tls.on('error', () => tls.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  onTestFinished(() => new Promise<void>((r) => server.close(() => r())));
  const { port } = server.address() as AddressInfo;
  return new Promise((resolve, reject) => {
    const socket = connect(
      { host: '127.0.0.1', port, ca: caPem, ...(servername ? { servername } : {}) },
      () => {
        resolve(new X509Certificate(socket.getPeerX509Certificate()!.raw));
        socket.destroy();
      },
    );
    socket.on('error', reject);
  });
}

describe('LeafCertificates', () => {
  it('issues a leaf per host with a DNS SAN (or an IP SAN), signed by the CA and verified by a client', async () => {
    const authority = await ca();
    const leaves = new LeafCertificates(authority);
    const byName = await served(await leaves.get('api.example.test'), authority.certPem, 'api.example.test');
    expect(byName.subjectAltName).toBe('DNS:api.example.test');
    expect(byName.checkIssued(new X509Certificate(authority.certPem))).toBe(true);
    expect(byName.publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    const byIp = await served(await leaves.get('127.0.0.1'), authority.certPem);
    expect(byIp.subjectAltName).toBe('IP Address:127.0.0.1');
  });

  it('concurrent requests for one new host generate one key; the cache is a bounded LRU', async () => {
    const leaves = new LeafCertificates(await ca(), 2);
    const contexts = await Promise.all(Array.from({ length: 20 }, () => leaves.get('a.test')));
    expect(new Set(contexts).size).toBe(1);
    expect(leaves.issued).toBe(1);
    await leaves.get('b.test');
    await leaves.get('a.test'); // a.test is now the most recent
    await leaves.get('c.test'); // evicts b.test
    expect(leaves.size).toBe(2);
    expect(leaves.issued).toBe(3);
    await leaves.get('a.test');
    expect(leaves.issued).toBe(3);
    await leaves.get('b.test');
    expect(leaves.issued).toBe(4);
  });

  it('re-issues a leaf close to its expiry', async () => {
    let now = Date.now();
    const leaves = new LeafCertificates(await ca(), 10, undefined, () => now);
    await leaves.get('a.test');
    now += 28 * 24 * 3600 * 1000;
    await leaves.get('a.test');
    expect(leaves.issued).toBe(2);
  });
});
