import { connect, Socket } from 'node:net';
import { request } from 'undici';
import { describe, expect, it } from 'vitest';
import { configYaml, startFaultgate, startUpstream } from '../helpers/index.js';

/**
 * When an event stream's head leaves faultgate: at once when the upstream sends it alone (a
 * client waits for it before any event), and in the same write as the first event when both
 * came from the upstream together (one syscall and one client wake-up per stream instead of two).
 */

/** Resolves with the first chunk a raw client reads for `path`, then collects the rest. */
function rawStream(
  port: number,
  path: string,
): { first: Promise<string>; all: Promise<string>; socket: Socket } {
  const socket = connect(port, '127.0.0.1', () =>
    socket.write(`GET ${path} HTTP/1.1\r\nHost: x\r\nX-Agent-Id: sse-test\r\nConnection: close\r\n\r\n`),
  );
  let text = '';
  const first = new Promise<string>((resolve) => socket.once('data', (d: Buffer) => resolve(d.toString())));
  const all = new Promise<string>((resolve) => {
    socket.on('data', (d: Buffer) => (text += d.toString()));
    socket.on('close', () => resolve(text));
    socket.on('error', () => resolve(text));
  });
  return { first, all, socket };
}

describe('event stream head', () => {
  it('goes out at once when the upstream sends the head alone and holds the events', async () => {
    // The upstream sends its first event only once the client has the head: a proxy that kept
    // the head back until the first body byte would never deliver either.
    let release: () => void = () => {};
    const clientHasHead = new Promise<void>((resolve) => (release = resolve));
    const up = await startUpstream((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.flushHeaders();
      void clientHasHead.then(() => res.end('data: {"i":0}\n\n'));
    });
    const { url } = await startFaultgate(configYaml({ upstream: up.url }));
    const res = await request(`${url}/v1/stream`);
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('text/event-stream');
    release();
    expect(await res.body.text()).toBe('data: {"i":0}\n\n');
  });

  it('leaves in one write with the first event when both came in one read', async () => {
    let release: () => void = () => {};
    const clientHasFirst = new Promise<void>((resolve) => (release = resolve));
    const up = await startUpstream((_req, res) => {
      // Head and first event in one write (node:http corks a head with the first chunk).
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: {"i":0}\n\n');
      void clientHasFirst.then(() => res.end('data: {"i":1}\n\ndata: [DONE]\n\n'));
    });
    const { port } = await startFaultgate(configYaml({ upstream: up.url }));
    // faultgate runs in this process: count the writes its socket to this client makes (the
    // real socket's own methods, wrapped; TCP would coalesce two writes for the reader anyway).
    const proto = Socket.prototype as unknown as Record<'_write' | '_writev', (...a: unknown[]) => unknown>;
    const original = { _write: proto._write, _writev: proto._writev };
    let writes = 0;
    const { first, all, socket } = rawStream(port, '/v1/stream');
    for (const name of ['_write', '_writev'] as const) {
      proto[name] = function (this: Socket, ...args: unknown[]) {
        if (this.remotePort === socket.localPort && this.localPort === port) writes++;
        return original[name].apply(this, args);
      };
    }
    let chunk: string;
    try {
      chunk = await first;
    } finally {
      Object.assign(proto, original);
    }
    release();
    expect(writes).toBe(1);
    // The first read of the client holds the status line, the headers and the first event.
    expect(chunk).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(chunk).toMatch(/\r\ncontent-type: text\/event-stream\r\n/i);
    expect(chunk).toContain('data: {"i":0}\n\n');
    const text = await all;
    expect(text).toContain('data: {"i":1}\n\ndata: [DONE]\n\n');
    expect(text.endsWith('0\r\n\r\n')).toBe(true);
  });

  it('still sends a head alone for an event stream that ends without a body', async () => {
    const up = await startUpstream((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.end();
    });
    const { url } = await startFaultgate(configYaml({ upstream: up.url }));
    const res = await request(`${url}/v1/stream`);
    expect(res.statusCode).toBe(200);
    expect(await res.body.text()).toBe('');
  });
});
