import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ConnectionOptions, connect as tlsConnect, type TLSSocket } from 'node:tls';
import { ProxyAgent } from 'undici';
import { onTestFinished } from 'vitest';
import {
  configYaml,
  scrape,
  startFaultgate,
  startUpstream,
  type TestFaultgate,
  type TestServer,
} from './index.js';
import { type TestPki, testPki } from './tls.js';

/** An https upstream on 127.0.0.1 with the test PKI's certificate (IP SAN 127.0.0.1). */
export async function httpsUpstream(
  handler: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<TestServer & { pki: TestPki }> {
  const pki = await testPki();
  const up = await startUpstream(handler, createHttpsServer({ cert: pki.serverCert, key: pki.serverKey }));
  return { ...up, pki };
}

export function tempDir(prefix = 'faultgate-tls-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export interface InterceptingFaultgate extends TestFaultgate {
  caDir: string;
  /** The interception CA (created by the instance at start), PEM. */
  caPem: string;
}

/**
 * faultgate with one forward listener (`tls: intercept` unless `listener` says otherwise),
 * allow_hosts 127.0.0.1, the upstream's test CA as upstream.ca_file and a fresh CA directory.
 */
export async function interceptingFaultgate(
  listener: Record<string, unknown> = {},
  extra = '',
): Promise<InterceptingFaultgate> {
  const pki = await testPki();
  const caDir = join(tempDir(), 'ca');
  const yaml = configYaml(
    { forward: true, tls: 'intercept', allow_hosts: ['127.0.0.1', 'localhost'], ...listener },
    `ca: { dir: ${JSON.stringify(caDir)} }\nupstream: { ca_file: ${JSON.stringify(pki.caFile)} }\n${extra}`,
  );
  const fg = await startFaultgate(yaml);
  return { ...fg, caDir, caPem: readFileSync(join(caDir, 'ca.pem'), 'utf8') };
}

/** An undici ProxyAgent through faultgate that trusts `ca`, destroyed after the test. */
export function trustingAgent(proxyUrl: string, ca: string | string[]): ProxyAgent {
  const agent = new ProxyAgent({ uri: proxyUrl, requestTls: { ca } });
  onTestFinished(() => agent.destroy());
  return agent;
}

/** A raw CONNECT to `target` through the proxy, then a TLS client on the tunnel (node:tls options). */
export async function tlsThroughProxy(
  proxyPort: number,
  target: string,
  options: ConnectionOptions,
  headers = '',
): Promise<TLSSocket> {
  const socket = netConnect({ host: '127.0.0.1', port: proxyPort });
  onTestFinished(() => {
    socket.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.once('connect', () => {
      socket.write(`CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n${headers}\r\n`);
      let head = '';
      const onData = (d: Buffer) => {
        head += d.toString('latin1');
        if (!head.includes('\r\n\r\n')) return;
        socket.off('data', onData);
        socket.pause();
        if (head.startsWith('HTTP/1.1 200')) resolve();
        else reject(new Error(`CONNECT refused: ${head.split('\r\n')[0]}`));
      };
      socket.on('data', onData);
    });
  });
  return new Promise((resolve, reject) => {
    const tls = tlsConnect({ socket, ...options }, () => resolve(tls));
    tls.once('error', (err) => {
      // As a real client does: a failed handshake closes the connection.
      socket.destroy();
      reject(err);
    });
  });
}

/** Scrapes /metrics until `ready(metrics)` holds (or 5 s pass), and returns the last scrape. */
export async function scrapeUntil(
  adminUrl: string,
  ready: (m: Map<string, number>) => boolean,
): Promise<Map<string, number>> {
  const until = Date.now() + 5000;
  let m = await scrape(adminUrl);
  while (!ready(m) && Date.now() < until) {
    await new Promise((r) => setTimeout(r, 20));
    m = await scrape(adminUrl);
  }
  return m;
}
