import { generateKeyPairSync, KeyObject, randomBytes, sign } from 'node:crypto';
import { isIP } from 'node:net';
import type { CertificateAuthority } from './ca.js';
import { x509 } from './x509.js';

/*
 * Leaf certificates written as DER directly. @peculiar/x509 builds them through a generic ASN.1
 * object model that costs ~6.5 ms of CPU per leaf (measured: 200 leaves, process.cpuUsage);
 * a leaf differs from the next only in serial, validity, subject CN and SAN, so everything
 * else is encoded once per CA and the CA signature is one synchronous node:crypto call.
 */

function tlv(tag: number, ...parts: Buffer[]): Buffer {
  const body = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
  const n = body.length;
  let head: Buffer;
  if (n < 0x80) head = Buffer.from([tag, n]);
  else if (n < 0x100) head = Buffer.from([tag, 0x81, n]);
  else if (n < 0x10000) head = Buffer.from([tag, 0x82, n >> 8, n & 0xff]);
  else head = Buffer.from([tag, 0x83, n >> 16, (n >> 8) & 0xff, n & 0xff]);
  return Buffer.concat([head, body]);
}

const SEQUENCE = 0x30;
const SET = 0x31;
const hex = (s: string) => Buffer.from(s.replace(/ /g, ''), 'hex');

/** v3, as `[0] EXPLICIT INTEGER 2`. */
const VERSION_3 = hex('a0 03 02 01 02');
/** AlgorithmIdentifier ecdsa-with-SHA256 (1.2.840.10045.4.3.2), no parameters. */
const ECDSA_SHA256 = hex('30 0a 06 08 2a 86 48 ce 3d 04 03 02');
const OID_CN = hex('06 03 55 04 03');
const OID_O = hex('06 03 55 04 0a');
/** basicConstraints (critical): not a CA. */
const EXT_BASIC = hex('30 0c 06 03 55 1d 13 01 01 ff 04 02 30 00');
/** keyUsage (critical): digitalSignature only. */
const EXT_KEY_USAGE = hex('30 0e 06 03 55 1d 0f 01 01 ff 04 04 03 02 07 80');
/** extKeyUsage: serverAuth. */
const EXT_SERVER_AUTH = hex('30 13 06 03 55 1d 25 04 0c 30 0a 06 08 2b 06 01 05 05 07 03 01');
const OID_SAN = hex('06 03 55 1d 11');
const OID_AKI = hex('06 03 55 1d 23');
const ORGANIZATION = 'faultgate interception (testing only)';

function utf8(value: string): Buffer {
  return tlv(0x0c, Buffer.from(value, 'utf8'));
}

/** RFC 5280: UTCTime through 2049, GeneralizedTime from 2050. */
function time(date: Date): Buffer {
  const iso = date.toISOString(); // YYYY-MM-DDTHH:MM:SS.sssZ
  const digits = `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}Z`;
  const year = date.getUTCFullYear();
  if (year >= 1950 && year < 2050) return tlv(0x17, Buffer.from(digits.slice(2), 'latin1'));
  return tlv(0x18, Buffer.from(digits, 'latin1'));
}

/** A positive 128-bit serial whose first octet is never 0 (DER: minimal, non-negative). */
function serial(): Buffer {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0]! & 0x7f) | 0x40;
  return tlv(0x02, bytes);
}

/** The 16 octets of an IPv6 literal (as `isIP` accepts it, an embedded IPv4 tail included). */
function ipv6Bytes(ip: string): Buffer {
  let text = ip;
  const tail: number[] = [];
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    for (const o of v4[1]!.split('.')) tail.push(Number(o));
    text = `${text.slice(0, v4.index)}0:0`; // two placeholder groups, overwritten below
  }
  const [left, right] = text.includes('::') ? text.split('::') : [text, undefined];
  const groups = (s: string | undefined) => (s ? s.split(':').map((g) => Number.parseInt(g, 16)) : []);
  const head = groups(left);
  const rest = groups(right);
  const all =
    right === undefined ? head : [...head, ...new Array(8 - head.length - rest.length).fill(0), ...rest];
  const out = Buffer.alloc(16);
  for (let i = 0; i < all.length; i++) out.writeUInt16BE(all[i]!, i * 2);
  if (tail.length === 4) out.set(tail, 12);
  return out;
}

function subjectAltName(host: string): Buffer {
  const family = isIP(host);
  const name =
    family === 4
      ? tlv(0x87, Buffer.from(host.split('.').map(Number)))
      : family === 6
        ? tlv(0x87, ipv6Bytes(host))
        : tlv(0x82, Buffer.from(host, 'latin1'));
  return tlv(SEQUENCE, OID_SAN, tlv(0x04, tlv(SEQUENCE, name)));
}

/** A P-256 key pair for leaves: the private key as PEM (for TLS), the public key as SPKI DER. */
export interface LeafKey {
  keyPem: string;
  spki: Buffer;
}

export function generateLeafKey(): LeafKey {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return {
    keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
    spki: publicKey.export({ type: 'spki', format: 'der' }),
  };
}

/** Signs leaves for one CA and one leaf key; the parts that never change are encoded once. */
export class LeafSigner {
  private readonly issuer: Buffer;
  private readonly authorityKeyId: Buffer | undefined;
  private readonly caKey: KeyObject;

  constructor(
    ca: CertificateAuthority,
    readonly key: LeafKey,
  ) {
    this.issuer = Buffer.from(ca.cert.subjectName.toArrayBuffer());
    const ski = ca.cert.getExtension(x509.SubjectKeyIdentifierExtension);
    this.authorityKeyId = ski
      ? tlv(SEQUENCE, OID_AKI, tlv(0x04, tlv(SEQUENCE, tlv(0x80, Buffer.from(ski.keyId, 'hex')))))
      : undefined;
    this.caKey = x509CaKey(ca);
  }

  /** The PEM certificate for `host` (a DNS name or an IP literal without brackets). */
  certificate(host: string, notBefore: Date, notAfter: Date): string {
    // CNs are limited to 64 characters; the SAN is what clients check.
    const subject = tlv(
      SEQUENCE,
      tlv(SET, tlv(SEQUENCE, OID_CN, utf8(host.slice(0, 64)))),
      tlv(SET, tlv(SEQUENCE, OID_O, utf8(ORGANIZATION))),
    );
    const extensions = [EXT_BASIC, EXT_KEY_USAGE, EXT_SERVER_AUTH, subjectAltName(host)];
    if (this.authorityKeyId) extensions.push(this.authorityKeyId);
    const tbs = tlv(
      SEQUENCE,
      VERSION_3,
      serial(),
      ECDSA_SHA256,
      this.issuer,
      tlv(SEQUENCE, time(notBefore), time(notAfter)),
      subject,
      this.key.spki,
      tlv(0xa3, tlv(SEQUENCE, ...extensions)),
    );
    const signature = sign('sha256', tbs, { key: this.caKey, dsaEncoding: 'der' });
    const der = tlv(SEQUENCE, tbs, ECDSA_SHA256, tlv(0x03, Buffer.from([0]), signature));
    const b64 = der.toString('base64').replace(/.{64}/g, '$&\n');
    return `-----BEGIN CERTIFICATE-----\n${b64}${b64.endsWith('\n') ? '' : '\n'}-----END CERTIFICATE-----\n`;
  }
}

/** The CA's signing key as a KeyObject (the CryptoKey stays non-extractable: this is no export). */
function x509CaKey(ca: CertificateAuthority): KeyObject {
  return KeyObject.from(ca.key);
}
