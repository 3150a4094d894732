import { createHash } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { describe, expect, it } from 'vitest';
import { configYaml, scrape, startFaultgate, startUpstream, waitFor } from '../helpers/index.js';

const CHUNK = 64 * 1024;
const CHUNKS = 128; // 8 MiB

/** Chunk i of the body: its own fill byte and its index up front, so a lost or swapped chunk shows. */
function chunkOf(i: number): Buffer {
  const out = Buffer.alloc(CHUNK, (i * 37) & 0xff);
  out.writeUInt32BE(i, 0);
  return out;
}

/**
 * A response fault is an undici handler wrapped around the exchange: the bytes it hands on must
 * arrive whole and in order, paced by a client that keeps pausing (the wrapped handler's pause
 * and resume go through the fault's output, the upstream's through its input).
 */
describe('FaultHandler', () => {
  it('streams an 8 MiB body through a response fault to a slow client, byte for byte', async () => {
    const sent = createHash('sha256');
    let upstreamDone = false;
    const upstream = await startUpstream((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      let i = 0;
      const pump = (): void => {
        while (i < CHUNKS) {
          const chunk = chunkOf(i++);
          sent.update(chunk);
          if (!res.write(chunk)) {
            res.once('drain', pump);
            return;
          }
        }
        res.end(() => {
          upstreamDone = true;
        });
      };
      pump();
    });
    const fg = await startFaultgate(
      configYaml({ upstream: upstream.url }, 'chaos: { header_overrides: true, seed: 1 }\n'),
    );
    const received = createHash('sha256');
    let bytes = 0;
    let pauses = 0;
    const head = await new Promise<{ status: number; injected: unknown }>((resolve, reject) => {
      const req = httpRequest(
        `${fg.url}/big`,
        { headers: { 'x-faultgate-fault': 'truncate;after_bytes=100000000;mode=clean' } },
        (res) => {
          res.on('data', (chunk: Buffer) => {
            received.update(chunk);
            const before = bytes;
            bytes += chunk.length;
            // Every MiB the client stops reading for a moment; bounded: 8 pauses at most.
            if (Math.floor(before / 2 ** 20) !== Math.floor(bytes / 2 ** 20) && pauses < 8) {
              pauses++;
              res.pause();
              setTimeout(() => res.resume(), 10);
            }
          });
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, injected: res.headers['x-faultgate-injected'] }),
          );
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end();
    });
    expect(head).toEqual({ status: 200, injected: 'override/truncate' });
    expect(bytes).toBe(CHUNK * CHUNKS);
    expect(pauses).toBeGreaterThan(0);
    await waitFor(() => upstreamDone, 5000, 'the upstream to finish');
    expect(received.digest('hex')).toBe(sent.digest('hex'));
    // The request's fault gauge drops when its response closes, just after the client saw the end.
    let m = await scrape(fg.adminUrl);
    for (let i = 0; i < 100 && m.get('faultgate_active_faults') !== 0; i++) {
      await new Promise((r) => setTimeout(r, 20));
      m = await scrape(fg.adminUrl);
    }
    expect(
      m.get('faultgate_requests_total{agent="127.0.0.1",tool="unmatched",outcome="success",injected="true"}'),
    ).toBe(1);
    expect(m.get('faultgate_active_faults')).toBe(0);
  });
});
