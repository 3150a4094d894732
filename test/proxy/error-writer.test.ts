import { describe, expect, it } from 'vitest';
import { configYaml, startFaultgate } from '../helpers/index.js';
import { rawRequest, WireClient, wsHandshake } from '../helpers/wire.js';

/** Every error faultgate writes on a raw socket has the reason phrase of its status (issue 8). */
describe('raw-socket error answers', () => {
  it('a WebSocket upgrade with no upstream gets 502 Bad Gateway, not "502 Bad Request"', async () => {
    const fg = await startFaultgate(configYaml({}));
    const client = await WireClient.connect(fg.port);
    const head = await wsHandshake(client, '/socket', `127.0.0.1:${fg.port}`);
    expect(head.statusLine).toBe('HTTP/1.1 502 Bad Gateway');
    expect(head.headers['x-faultgate-error']).toBe('FAULTGATE_ERR_NO_UPSTREAM');
    expect(head.headers['content-type']).toBe('application/json');
    await client.waitClosed();
  });

  it('a CONNECT outside allow_hosts gets 403 Forbidden with the JSON body', async () => {
    const fg = await startFaultgate(configYaml({ forward: true, allow_hosts: ['example.invalid'] }));
    const res = await rawRequest(fg.port, 'CONNECT 127.0.0.1:9 HTTP/1.1\r\nHost: 127.0.0.1:9\r\n\r\n');
    expect(res.statusLine).toBe('HTTP/1.1 403 Forbidden');
    expect(JSON.parse(res.body.toString()).error.code).toBe('FAULTGATE_ERR_FORWARD_DENIED');
  });

  it('oversized request headers get 431 Request Header Fields Too Large', async () => {
    const fg = await startFaultgate(configYaml({ upstream: 'http://127.0.0.1:9' }));
    const big = 'x'.repeat(64 * 1024);
    const res = await rawRequest(fg.port, `GET / HTTP/1.1\r\nHost: a\r\nx-big: ${big}\r\n\r\n`);
    expect(res.statusLine).toBe('HTTP/1.1 431 Request Header Fields Too Large');
    expect(res.headers['x-faultgate-error']).toBe('FAULTGATE_ERR_HEADERS_TOO_LARGE');
    expect(JSON.parse(res.body.toString()).error.source).toBe('faultgate');
  });
});
