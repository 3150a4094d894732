import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { rootCertificates } from 'node:tls';
import { FaultgateError } from '../errors.js';
import {
  type CryptoKey,
  DAY_MS,
  ecdsaP256,
  ecdsaSha256,
  generateKeyPair,
  privateKeyPem,
  randomSerial,
  subtle,
  x509,
} from './x509.js';

/** The interception CA as faultgate uses it: its certificate and its signing key, in memory. */
export interface CertificateAuthority {
  dir: string;
  cert: x509.X509Certificate;
  certPem: string;
  key: CryptoKey;
}

export interface CaFiles {
  dir: string;
  cert: string;
  key: string;
  bundle: string;
}

/** Two years: long enough to trust once per project, short enough that a forgotten CA expires. */
export const CA_VALIDITY_DAYS = 730;
export const CA_NAME = 'CN=faultgate interception CA (testing only), O=faultgate, OU=chaos testing only';

export function caFiles(dir: string): CaFiles {
  const abs = resolve(dir);
  return {
    dir: abs,
    cert: join(abs, 'ca.pem'),
    key: join(abs, 'ca-key.pem'),
    bundle: join(abs, 'bundle.pem'),
  };
}

class CaError extends FaultgateError {
  constructor(detail: string) {
    super('FAULTGATE_ERR_CA', detail);
  }
}

async function generateCa(): Promise<{ certPem: string; keyPem: string }> {
  const keys = await generateKeyPair();
  // Valid from yesterday: a client whose clock is a little behind still accepts it.
  const notBefore = new Date(Date.now() - DAY_MS);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: CA_NAME,
    notBefore,
    notAfter: new Date(notBefore.getTime() + CA_VALIDITY_DAYS * DAY_MS),
    keys,
    signingAlgorithm: ecdsaSha256,
    extensions: [
      // pathLen 0: the CA signs leaves only, never another CA.
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { certPem: cert.toString('pem'), keyPem: await privateKeyPem(keys.privateKey) };
}

/** System roots plus the faultgate CA: for variables that replace the trust store instead of adding to it. */
export function bundlePem(caPem: string): string {
  return `${rootCertificates.join('\n')}\n${caPem.trim()}\n`;
}

/**
 * Writes a new CA into `dir` (created 0700). Refuses to replace an existing CA unless `force`:
 * every client that trusts the old one would stop trusting faultgate.
 */
export async function initCa(dir: string, force = false): Promise<CaFiles> {
  const files = caFiles(dir);
  if (!force && (existsSync(files.cert) || existsSync(files.key))) {
    throw new CaError(`a CA already exists in ${files.dir} (use --force to replace it)`);
  }
  const { certPem, keyPem } = await generateCa();
  try {
    mkdirSync(files.dir, { recursive: true, mode: 0o700 });
    // The key is written with 0600 from the start (and again if the file existed with looser bits).
    writeFileSync(files.key, keyPem, { mode: 0o600 });
    chmodSync(files.key, 0o600);
    writeFileSync(files.cert, certPem, { mode: 0o644 });
    writeFileSync(files.bundle, bundlePem(certPem), { mode: 0o644 });
  } catch (err) {
    throw new CaError(`cannot write the CA to ${files.dir}: ${(err as Error).message}`);
  }
  return files;
}

/** Reads the CA of `dir`; undefined when there is none yet. */
export async function loadCa(dir: string): Promise<CertificateAuthority | undefined> {
  const files = caFiles(dir);
  if (!existsSync(files.cert) && !existsSync(files.key)) return undefined;
  let certPem: string;
  let keyPem: string;
  try {
    certPem = readFileSync(files.cert, 'utf8');
    keyPem = readFileSync(files.key, 'utf8');
  } catch (err) {
    throw new CaError(`cannot read the CA in ${files.dir}: ${(err as Error).message}`);
  }
  try {
    const cert = new x509.X509Certificate(certPem);
    const der = x509.PemConverter.decode(keyPem)[0];
    if (!der) throw new Error('no PEM block in ca-key.pem');
    const key = await subtle.importKey('pkcs8', der, ecdsaP256, false, ['sign']);
    return { dir: files.dir, cert, certPem, key };
  } catch (err) {
    // Never echo the key file's content: only say which directory is broken.
    throw new CaError(
      `the CA in ${files.dir} is unreadable (${(err as Error).message}); recreate it with faultgate ca init --force`,
    );
  }
}

/** The CA of `dir`, created when missing (`start` with `tls: intercept`). */
export async function ensureCa(
  dir: string,
): Promise<{ ca: CertificateAuthority; created: CaFiles | undefined }> {
  const existing = await loadCa(dir);
  if (existing) return { ca: existing, created: undefined };
  const created = await initCa(dir);
  const ca = await loadCa(dir);
  if (!ca) throw new CaError(`the CA written to ${created.dir} cannot be read back`);
  return { ca, created };
}
