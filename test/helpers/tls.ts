import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as x509 from '@peculiar/x509';

/** A test CA and a server certificate for 127.0.0.1 / localhost, all PEM. */
export interface TestPki {
  /** The CA certificate a client (or `upstream.ca_file`) trusts. */
  caCert: string;
  /** Absolute path of a file holding `caCert`, for `upstream.ca_file`. */
  caFile: string;
  /** Leaf certificate with SANs IP:127.0.0.1, IP:::1 and DNS:localhost, signed by the CA. */
  serverCert: string;
  /** The leaf's private key, PKCS#8 PEM. */
  serverKey: string;
}

const ecdsa = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const signingAlgorithm = { name: 'ECDSA', hash: 'SHA-256' } as const;
const DAY_MS = 24 * 60 * 60 * 1000;

let cached: Promise<TestPki> | undefined;

/** Generated once per process (ECDSA P-256, WebCrypto); the CA file lives in os.tmpdir(). */
export function testPki(): Promise<TestPki> {
  cached ??= generate();
  return cached;
}

async function generate(): Promise<TestPki> {
  const { subtle } = webcrypto;
  x509.cryptoProvider.set(webcrypto);
  // Valid from yesterday, so clock skew between generation and use never matters.
  const notBefore = new Date(Date.now() - DAY_MS);
  const notAfter = new Date(Date.now() + 30 * DAY_MS);

  const caKeys = (await subtle.generateKey(ecdsa, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const ca = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '01',
    name: 'CN=faultgate test CA, O=faultgate tests',
    notBefore,
    notAfter,
    keys: caKeys,
    signingAlgorithm,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(caKeys.publicKey),
    ],
  });

  const serverKeys = (await subtle.generateKey(ecdsa, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const leaf = await x509.X509CertificateGenerator.create({
    serialNumber: '02',
    subject: 'CN=localhost',
    issuer: ca.subject,
    notBefore,
    notAfter,
    publicKey: serverKeys.publicKey,
    signingKey: caKeys.privateKey,
    signingAlgorithm,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension([
        { type: 'ip', value: '127.0.0.1' },
        { type: 'ip', value: '::1' },
        { type: 'dns', value: 'localhost' },
      ]),
      await x509.SubjectKeyIdentifierExtension.create(serverKeys.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(caKeys.publicKey),
    ],
  });

  const pkcs8 = Buffer.from(await subtle.exportKey('pkcs8', serverKeys.privateKey));
  const serverKey = x509.PemConverter.encode(pkcs8, 'PRIVATE KEY');
  const caCert = ca.toString('pem');
  const dir = mkdtempSync(join(tmpdir(), 'faultgate-test-ca-'));
  const caFile = join(dir, 'ca.pem');
  writeFileSync(caFile, caCert);
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  return { caCert, caFile, serverCert: leaf.toString('pem'), serverKey };
}
