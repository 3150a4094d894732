// @peculiar/x509 reads decorator metadata at import time: the polyfill must load first.
import 'reflect-metadata';
import { randomBytes, webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

export type CryptoKey = webcrypto.CryptoKey;
export type CryptoKeyPair = webcrypto.CryptoKeyPair;

export { x509 };
export const subtle = webcrypto.subtle;
export const ecdsaP256 = { name: 'ECDSA', namedCurve: 'P-256' } as const;
export const ecdsaSha256 = { name: 'ECDSA', hash: 'SHA-256' } as const;
export const DAY_MS = 24 * 60 * 60 * 1000;

/** A positive 128-bit serial (RFC 5280: unique per CA, at most 20 octets, non-negative). */
export function randomSerial(): string {
  const bytes = randomBytes(16);
  bytes[0] = bytes[0]! & 0x7f;
  return bytes.toString('hex');
}

export function generateKeyPair(): Promise<CryptoKeyPair> {
  return subtle.generateKey(ecdsaP256, true, ['sign', 'verify']) as Promise<CryptoKeyPair>;
}

export async function privateKeyPem(key: CryptoKey): Promise<string> {
  return x509.PemConverter.encode(await subtle.exportKey('pkcs8', key), 'PRIVATE KEY');
}
