import { createSecureContext, type SecureContext } from 'node:tls';
import type { CertificateAuthority } from './ca.js';
import { generateLeafKey, LeafSigner } from './leaf-der.js';
import { DAY_MS } from './x509.js';

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
 * share one signature.
 *
 * Every leaf of one cache shares one P-256 key pair (as mitmproxy does): only the certificate is
 * signed per host. The key lives in memory only and dies with the process; for a testing CA the
 * secret that matters is the CA key, which stays 0600 on disk and never signs anything but leaves.
 */
export class LeafCertificates {
  private readonly entries = new Map<string, Entry>();
  private signer: LeafSigner | undefined;
  /** How many leaves were signed (for tests and the bench: a cache hit signs none). */
  issued = 0;
  /** How many key pairs were generated: one per cache, whatever the number of hosts. */
  keysGenerated = 0;

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
    if (!this.signer) {
      this.keysGenerated++;
      this.signer = new LeafSigner(this.ca, generateLeafKey());
    }
    return createSecureContext({
      key: this.signer.key.keyPem,
      // The chain sent to the client: the leaf, then the CA (a client that trusts the CA finds it either way).
      cert: `${this.signer.certificate(host, notBefore, notAfter)}${this.ca.certPem}`,
      minVersion: 'TLSv1.2',
    });
  }
}

/** One leaf for `host` (DNS SAN, or IP SAN for an IP literal) signed by `ca`, with its own key, PEM. */
export async function issueLeaf(
  ca: CertificateAuthority,
  host: string,
  notBefore: Date,
  notAfter: Date,
): Promise<{ certPem: string; keyPem: string }> {
  const signer = new LeafSigner(ca, generateLeafKey());
  return { certPem: signer.certificate(host, notBefore, notAfter), keyPem: signer.key.keyPem };
}
