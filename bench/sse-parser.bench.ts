/**
 * Micro benchmark of the SSE framer on a realistic OpenAI Chat Completions stream.
 * Run: npx tsc -p . && node dist/bench/sse-parser.bench.js
 */
import { strict as assert } from 'node:assert';
import { Bench } from 'tinybench';
import { isTerminal } from '../src/stream/sse-dialect.js';
import { SseParser } from '../src/stream/sse-parser.js';
import { SeededRng } from '../src/chaos/rng.js';

const TARGET_BYTES = 2 * 1024 * 1024;
const WORDS = [
  ' the',
  ' model',
  ' streams',
  ' tokens',
  ',',
  ' and',
  ' 你好',
  ' 😀',
  ' agents',
  ' retry',
  '.',
];

/** The project's seeded PRNG (mulberry32) as a plain function. */
function mulberry32(seed: number): () => number {
  const rng = new SeededRng(seed);
  return () => rng.next();
}

/** Chunks shaped like api.openai.com's: one small JSON delta per event, [DONE] last. */
function openaiStream(rng: () => number): { body: Buffer; events: number } {
  const head =
    '{"id":"chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT","object":"chat.completion.chunk","created":1741569952';
  const tail = ',"model":"gpt-4.1-2025-04-14","service_tier":"default","system_fingerprint":"fp_6ec83003ad"';
  const parts: string[] = [];
  let size = 0;
  while (size < TARGET_BYTES) {
    const word = WORDS[Math.floor(rng() * WORDS.length)]!;
    const delta = JSON.stringify({ content: word });
    const event = `data: ${head}${tail},"choices":[{"index":0,"delta":${delta},"logprobs":null,"finish_reason":null}]}\n\n`;
    parts.push(event);
    size += Buffer.byteLength(event);
  }
  parts.push('data: [DONE]\n\n');
  return { body: Buffer.from(parts.join('')), events: parts.length };
}

/** Each chunk its own Buffer, as a socket delivers them, so no event can share one backing store. */
function split(body: Buffer, rng: () => number, min: number, max: number): Buffer[] {
  const chunks: Buffer[] = [];
  for (let pos = 0; pos < body.length; ) {
    const n = min + Math.floor(rng() * (max - min + 1));
    chunks.push(Buffer.from(body.subarray(pos, pos + n)));
    pos += n;
  }
  return chunks;
}

/** Framing only: what a pass-through with event counting costs. */
function frame(chunks: Buffer[]): number {
  const parser = new SseParser();
  let n = 0;
  for (const chunk of chunks) n += parser.push(chunk).length;
  if (parser.end()) n++;
  return n;
}

/** Framing plus what counting events and `no_done` need: data presence and the stream's end. */
function frameAndClassify(chunks: Buffer[]): number {
  const parser = new SseParser();
  let n = 0;
  for (const chunk of chunks) {
    for (const event of parser.push(chunk)) if (event.hasData && !isTerminal(event)) n++;
  }
  return n;
}

/** Framing plus decoding every event's data, as a fault that rewrites payloads would. */
function frameAndDecode(chunks: Buffer[]): number {
  const parser = new SseParser();
  let n = 0;
  for (const chunk of chunks) {
    for (const event of parser.push(chunk)) if (event.data !== undefined && !isTerminal(event)) n++;
  }
  return n;
}

const rng = mulberry32(42);
const { body, events } = openaiStream(rng);
const scenarios = [
  { name: '100-300 B chunks', chunks: split(body, rng, 100, 300) },
  { name: '16 KiB chunks', chunks: split(body, rng, 16 * 1024, 16 * 1024) },
];

// Correctness before timing: every event found, the last one terminal, every byte accounted for.
for (const { name, chunks } of scenarios) {
  assert.equal(frame(chunks), events, name);
  assert.equal(frameAndClassify(chunks), events - 1, name);
  assert.equal(frameAndDecode(chunks), events - 1, name);
  const parser = new SseParser();
  const raws = chunks.flatMap((c) => parser.push(c).map((e) => e.raw));
  assert.ok(Buffer.concat(raws).equals(body), name);
}

const bench = new Bench({ name: 'sse-parser', time: 1500, warmupTime: 500 });
for (const { name, chunks } of scenarios) {
  bench.add(`frame, ${name}`, () => {
    frame(chunks);
  });
  bench.add(`frame + hasData + isTerminal, ${name}`, () => {
    frameAndClassify(chunks);
  });
  bench.add(`frame + data + isTerminal, ${name}`, () => {
    frameAndDecode(chunks);
  });
}
await bench.run();

const mb = body.length / 1e6;
console.log(`OpenAI stream: ${mb.toFixed(2)} MB, ${events} events, Node ${process.version}`);
console.table(
  bench.tasks.map((task) => {
    const r = task.result;
    if (r.state !== 'completed') return { task: task.name, state: r.state };
    return {
      task: task.name,
      'MB/s': Math.round(mb / (r.period / 1000)),
      'events/s (M)': (events / (r.period / 1000) / 1e6).toFixed(2),
      'ms/run': r.period.toFixed(2),
      '±%': r.latency.rme.toFixed(1),
      runs: r.latency.samplesCount,
    };
  }),
);
