import { isIP } from 'node:net';
import { createSecureContext, type SecureContext } from 'node:tls';
import type { CertificateAuthority } from './ca.js';
import { DAY_MS, ecdsaSha256, generateKeyPair, privateKeyPem, randomSerial, x509 } from './x509.js';

/** Leaves are short-lived: a process that runs longer re-issues them (see `fresh`). */
const LEAF_VALIDITY_DAYS = 30;
/** Re-issued this long before expiry, so no client ever meets an expired leaf. */
const RENEW_BEFORE_MS = 2 * DAY_MS;

interface Entry {
  context: Promise<SecureContext>;
  notAfter: number;
}

/**
 * Per-host leaf certificates signed by the CA, as TLS server contexts. A bounded LRU (a Map in
 * use order); the promise is cached, not the result, so concurrent handshakes for one new host
 * share one key generation. Keys live in memory only.
 */
export class LeafCertificates {
  private readonly entries = new Map<string, Entry>();
  /** How many leaves were generated (for tests and the bench: a cache hit generates none). */
  issued = 0;

  constructor(
    private readonly ca: CertificateAuthority,
    private readonly max = 1000,
    /** Told of every generated leaf (a metric). */
    private readonly onIssue: () => void = () => {},
    private readonly now: () => number = Date.now,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  /** The context for `host` (a DNS name or an IP literal, without brackets). */
  get(host: string): Promise<SecureContext> {
    const key = host.toLowerCase();
    const hit = this.entries.get(key);
    if (hit && hit.notAfter - RENEW_BEFORE_MS > this.now()) {
      this.entries.delete(key);
      this.entries.set(key, hit);
      return hit.context;
    }
    const notBefore = this.now() - DAY_MS;
    const notAfter = Math.min(notBefore + LEAF_VALIDITY_DAYS * DAY_MS, this.ca.cert.notAfter.getTime());
    const context = this.issue(key, new Date(notBefore), new Date(notAfter));
    const entry = { context, notAfter };
    this.entries.delete(key);
    this.entries.set(key, entry);
    // A failed generation is not cached: the next handshake tries again.
    context.catch(() => {
      if (this.entries.get(key) === entry) this.entries.delete(key);
    });
    while (this.entries.size > this.max) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
    }
    return context;
  }

  private async issue(host: string, notBefore: Date, notAfter: Date): Promise<SecureContext> {
    this.issued++;
    this.onIssue();
    const leaf = await issueLeaf(this.ca, host, notBefore, notAfter);
    return createSecureContext({
      key: leaf.keyPem,
      // The chain sent to the client: the leaf, then the CA (a client that trusts the CA finds it either way).
      cert: `${leaf.certPem}\n${this.ca.certPem}`,
      minVersion: 'TLSv1.2',
    });
  }
}

/** One leaf for `host` (DNS SAN, or IP SAN for an IP literal) signed by `ca`, PEM. */
export async function issueLeaf(
  ca: CertificateAuthority,
  host: string,
  notBefore: Date,
  notAfter: Date,
): Promise<{ certPem: string; keyPem: string }> {
  const keys = await generateKeyPair();
  const ip = isIP(host) !== 0;
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    // CNs are limited to 64 characters; the SAN is what clients check.
    subject: `CN=${ip ? host : host.slice(0, 64)}, O=faultgate interception (testing only)`,
    issuer: ca.cert.subject,
    notBefore,
    notAfter,
    publicKey: keys.publicKey,
    signingKey: ca.key,
    signingAlgorithm: ecdsaSha256,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension([{ type: ip ? 'ip' : 'dns', value: host }]),
      await x509.AuthorityKeyIdentifierExtension.create(ca.cert),
    ],
  });
  return { certPem: cert.toString('pem'), keyPem: await privateKeyPem(keys.privateKey) };
}
