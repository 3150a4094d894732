import { createPrivateKey, X509Certificate } from 'node:crypto';
import { join } from 'node:path';
import { type AddressInfo, createServer as createNetServer } from 'node:net';
import { connect, type SecureContext, TLSSocket } from 'node:tls';
import { describe, expect, it, onTestFinished } from 'vitest';
import { type CertificateAuthority, ensureCa } from '../../src/tls/ca.js';
import { issueLeaf, LeafCertificates } from '../../src/tls/leaf-cache.js';
import { tempDir } from '../helpers/intercept.js';

async function ca(): Promise<CertificateAuthority> {
  return (await ensureCa(join(tempDir(), 'ca'))).ca;
}

/** The certificate a TLS server with `context` presents, as a verifying client sees it. */
async function served(
  context: SecureContext,
  caPem: string,
  servername?: string,
  /** Verify the chain only (the leaf names an address this test does not connect to). */
  chainOnly = false,
): Promise<X509Certificate> {
  const server = createNetServer((raw) => {
    const tls = new TLSSocket(raw, { isServer: true, secureContext: context });
    tls.on('error', () => tls.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  onTestFinished(() => new Promise<void>((r) => server.close(() => r())));
  const { port } = server.address() as AddressInfo;
  return new Promise((resolve, reject) => {
    const socket = connect(
      {
        host: '127.0.0.1',
        port,
        ca: caPem,
        ...(servername ? { servername } : {}),
        ...(chainOnly ? { checkServerIdentity: () => undefined } : {}),
      },
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
    const byIp6 = await served(await leaves.get('::1'), authority.certPem, undefined, true);
    expect(byIp6.subjectAltName).toBe('IP Address:0:0:0:0:0:0:0:1');
  });

  it('signs every leaf with one shared key pair: a new host costs a signature, not a key generation', async () => {
    const authority = await ca();
    const caCert = new X509Certificate(authority.certPem);
    const leaves = new LeafCertificates(authority);
    const hosts = ['a.test', 'b.test', '10.0.0.1', '2001:db8::ffff:1.2.3.4'];
    const certs = await Promise.all(
      hosts.map(async (h) => served(await leaves.get(h), authority.certPem, undefined, true)),
    );
    expect(leaves.issued).toBe(4);
    expect(leaves.keysGenerated).toBe(1);
    expect(
      new Set(certs.map((c) => c.publicKey.export({ type: 'spki', format: 'der' }).toString('hex'))).size,
    ).toBe(1);
    expect(new Set(certs.map((c) => c.serialNumber)).size).toBe(4);
    for (const c of certs) {
      expect(c.verify(caCert.publicKey)).toBe(true);
      expect(c.ca).toBe(false);
      expect(c.keyUsage).toEqual(['1.3.6.1.5.5.7.3.1']);
      expect(c.subject).toContain('testing only');
    }
    expect(certs[3]!.subjectAltName).toBe('IP Address:2001:DB8:0:0:0:FFFF:102:304');
  });

  it('writes validity past 2049 as GeneralizedTime and truncates long names in the CN only', async () => {
    const authority = await ca();
    const long = `${'a'.repeat(70)}.test`;
    const leaf = await issueLeaf(
      authority,
      long,
      new Date(Date.UTC(2049, 11, 31)),
      new Date(Date.UTC(2051, 0, 1)),
    );
    const cert = new X509Certificate(leaf.certPem);
    expect(cert.validTo).toBe('Jan  1 00:00:00 2051 GMT');
    expect(cert.validFrom).toBe('Dec 31 00:00:00 2049 GMT');
    expect(cert.subjectAltName).toBe(`DNS:${long}`);
    expect(cert.subject).toContain(`CN=${'a'.repeat(64)}\n`);
    expect(cert.checkPrivateKey(createPrivateKey(leaf.keyPem))).toBe(true);
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
