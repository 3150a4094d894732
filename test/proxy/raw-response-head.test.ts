import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { clientResponseHeadersRaw, flatIsEventStream } from '../../src/proxy/headers.js';
import { configYaml, startFaultgate, startUpstream } from '../helpers/index.js';

/** One keep-alive GET over a raw socket; resolves with the bytes once `until` shows in them. */
function rawGet(port: string, path: string, until: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(Number(port), '127.0.0.1', () =>
      s.write(`GET ${path} HTTP/1.1\r\nHost: gw.local\r\nX-Agent-Id: planner\r\n\r\n`),
    );
    let text = '';
    s.on('data', (d) => {
      text += d.toString('latin1');
      if (text.includes(until)) {
        s.destroy();
        resolve(text);
      }
    });
    s.on('error', reject);
    s.on('close', () => resolve(text));
  });
}

describe('the no-fault response head (raw undici headers, written flat)', () => {
  it('drops hop-by-hop and Connection-named headers, keeps duplicates and lower-cases names', () => {
    const raw = [
      'X-Secret',
      '1',
      'Content-Type',
      'text/plain',
      'Set-Cookie',
      'a=1',
      'Connection',
      'keep-alive, X-Secret',
      'Keep-Alive',
      'timeout=5',
      'Set-Cookie',
      'b=2',
      'Transfer-Encoding',
      'chunked',
    ].map((s) => Buffer.from(s, 'latin1'));
    expect(clientResponseHeadersRaw(raw)).toEqual([
      'content-type',
      'text/plain',
      'set-cookie',
      'a=1',
      'set-cookie',
      'b=2',
    ]);
    expect(flatIsEventStream(['content-type', 'text/event-stream; charset=utf-8'])).toBe(true);
    expect(flatIsEventStream(['content-type', 'application/json'])).toBe(false);
    expect(flatIsEventStream([])).toBe(false);
  });

  it('forwards what the upstream sent, end to end, through a real faultgate', async () => {
    const up = await startUpstream((_req, res) => {
      res.writeHead(200, 'Fine', [
        'Content-Type',
        'text/plain',
        'Connection',
        'X-Secret',
        'X-Secret',
        'hidden',
        'Set-Cookie',
        'a=1',
        'Set-Cookie',
        'b=2',
        'X-Latin',
        'caf\u00e9',
      ]);
      res.end('body-end');
    });
    const { url } = await startFaultgate(configYaml({ upstream: up.url }));
    const reply = await rawGet(new URL(url).port, '/x', 'body-end');
    const head = reply.slice(0, reply.indexOf('\r\n\r\n'));
    expect(head).toMatch(/^HTTP\/1\.1 200 Fine\r\n/);
    expect(head).toContain('\r\nset-cookie: a=1\r\nset-cookie: b=2');
    expect(head).toContain('\r\nx-latin: caf\u00e9');
    expect(head.toLowerCase()).not.toContain('x-secret');
    expect(head.toLowerCase()).not.toContain('hidden');
    expect(reply).toMatch(/\r\n\r\n(?:[0-9a-f]+\r\n)?body-end/);
  });

  it('sends an event stream head at once, before any event', async () => {
    let release: () => void = () => {};
    const up = await startUpstream((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.flushHeaders();
      // The first event waits until the client has the head: proof that faultgate flushed it.
      release = () => res.end('data: first\n\n');
    });
    const { url } = await startFaultgate(configYaml({ upstream: up.url }));
    const headSeen = rawGet(new URL(url).port, '/sse', '\r\n\r\n');
    const head = await headSeen;
    expect(head.toLowerCase()).toContain('content-type: text/event-stream');
    release();
  });
});
