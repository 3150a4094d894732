import { Readable } from 'node:stream';
import { request } from 'undici';
import { describe, expect, it } from 'vitest';
import { configYaml, startUpstream } from '../helpers/index.js';
import { peakRss, spawnFaultgate } from '../helpers/process.js';

const GiB = 1024 * 1024 * 1024;
const chunk = Buffer.alloc(256 * 1024, 0x61);

function* body(size: number): Generator<Buffer> {
  for (let sent = 0; sent < size; sent += chunk.length) yield chunk;
}

describe('streaming with backpressure', () => {
  it('passes a 1 GiB upload and a 1 GiB download through a faultgate process with flat memory', async () => {
    const up = await startUpstream(async (req, res) => {
      if (req.method === 'POST') {
        let n = 0;
        for await (const c of req as AsyncIterable<Buffer>) n += c.length;
        res.end(String(n));
        return;
      }
      res.writeHead(200, { 'content-length': String(GiB) });
      const it = body(GiB);
      const pump = () => {
        for (let next = it.next(); !next.done; next = it.next())
          if (!res.write(next.value)) return void res.once('drain', pump);
        res.end();
      };
      pump();
    });
    const fg = await spawnFaultgate(configYaml({ upstream: up.url }));
    const baseline = peakRss(fg.child.pid!);

    const upRes = await request(`${fg.url}/upload`, {
      method: 'POST',
      body: Readable.from(body(GiB), { objectMode: false }),
      headers: { 'content-length': String(GiB) },
    });
    expect(await upRes.body.text()).toBe(String(GiB));

    const down = await request(`${fg.url}/download`);
    let received = 0;
    for await (const c of down.body) received += c.length;
    expect(received).toBe(GiB);

    // A buffering proxy would hold ~1 GiB; a streaming one stays near its idle footprint.
    const growth = peakRss(fg.child.pid!) - baseline;
    expect(growth).toBeLessThan(96 * 1024 * 1024);
  }, 60_000);
});
