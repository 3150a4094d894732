/**
 * A real LLM-like upstream on port 0 serving the fixtures: `/.../<kind>/json` and
 * `/.../<kind>/stream`, streams written one event at a time with small gaps, or (header
 * `x-split-seed`) the same bytes split at seeded random points (`whole`: one write); plus a
 * faultgate in front of it and an undici client that keeps what arrived before an error.
 */
import { request } from 'undici';
import { SseParser } from '../../src/stream/sse-parser.js';
import {
  configYaml,
  startFaultgate,
  startUpstream,
  type TestFaultgate,
  type TestServer,
} from '../helpers/index.js';
import { jsonAnswers, streams } from './llm-fixtures.js';

/** mulberry32, for split points the test can repeat. */
export function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), s | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The bytes cut into pieces at seeded random points (any byte, mid-line and mid-character too). */
export function randomSplit(bytes: Buffer, seed: number): Buffer[] {
  const next = prng(seed);
  const cuts = new Set<number>();
  const n = 1 + Math.floor(next() * 30);
  for (let i = 0; i < n; i++) cuts.add(1 + Math.floor(next() * (bytes.length - 1)));
  const sorted = [...cuts].sort((a, b) => a - b);
  return [0, ...sorted].map((from, i) => bytes.subarray(from, sorted[i] ?? bytes.length));
}

const pause = (ms: number) => new Promise<void>((r) => (ms > 0 ? setTimeout(r, ms) : setImmediate(r)));

/** Serves `/.../<kind>/stream|json`, any other path as plain JSON. */
export async function llmUpstream(gapMs = 2): Promise<TestServer> {
  return startUpstream(async (req, res) => {
    const m = /\/([a-z-]+)\/(stream|json)(?:\?|$)/.exec(req.url ?? '');
    const stream = m?.[2] === 'stream' ? streams[m[1]!] : undefined;
    const answer = m?.[2] === 'json' ? jsonAnswers[m[1]!] : undefined;
    if (stream) {
      res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' });
      const split = req.headers['x-split-seed'] as string | undefined;
      const whole = Buffer.from(stream.join(''));
      const pieces =
        split === undefined ? stream : split === 'whole' ? [whole] : randomSplit(whole, Number(split));
      for (const piece of pieces) {
        if (res.destroyed) return;
        res.write(piece);
        await pause(split === undefined ? gapMs : 0);
      }
      res.end();
      return;
    }
    const body = JSON.stringify(answer ?? { ok: true, data: [1, 2, 3] });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
}

/** faultgate with header overrides in front of `up`: tools `llm` (openai) and `claude` (anthropic). */
export async function llmFaultgate(up: TestServer, seed = 7): Promise<TestFaultgate> {
  return startFaultgate(
    configYaml(
      { upstream: up.url },
      `chaos: { header_overrides: true, seed: ${seed} }
tools:
  - name: llm
    match: { path: "/v1/**" }
    format: openai
  - name: claude
    match: { path: "/anthropic/**" }
    format: anthropic
`,
    ),
  );
}

export interface Received {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  /** The body did not end cleanly: the error's code or name. */
  error: string | undefined;
  /** When the head and the first body byte arrived, and when it was over, ms from the start. */
  headMs: number;
  firstByteMs: number | undefined;
  ms: number;
}

/**
 * One request through faultgate with an undici client; keeps whatever arrived before an error
 * (status 0 when none did).
 */
export async function call(
  url: string,
  fault: string | undefined,
  opts: { abortAfterMs?: number; signal?: AbortSignal; headers?: Record<string, string> } = {},
): Promise<Received> {
  const started = Date.now();
  const ac = new AbortController();
  opts.signal?.addEventListener('abort', () => ac.abort(), { once: true });
  const timer = opts.abortAfterMs === undefined ? undefined : setTimeout(() => ac.abort(), opts.abortAfterMs);
  try {
    let res: Awaited<ReturnType<typeof request>>;
    try {
      res = await request(url, {
        headers: { ...(fault ? { 'x-faultgate-fault': fault } : {}), ...opts.headers },
        signal: ac.signal,
      });
    } catch (err) {
      const error = (err as NodeJS.ErrnoException).code ?? (err as Error).name;
      const ms = Date.now() - started;
      return { status: 0, headers: {}, body: Buffer.alloc(0), error, headMs: ms, firstByteMs: undefined, ms };
    }
    const headMs = Date.now() - started;
    const chunks: Buffer[] = [];
    let firstByteMs: number | undefined;
    let error: string | undefined;
    try {
      for await (const c of res.body) {
        firstByteMs ??= Date.now() - started;
        chunks.push(c as Buffer);
      }
    } catch (err) {
      error = (err as NodeJS.ErrnoException).code ?? (err as Error).name;
    }
    const body = Buffer.concat(chunks);
    return {
      status: res.statusCode,
      headers: res.headers,
      body,
      error,
      headMs,
      firstByteMs,
      ms: Date.now() - started,
    };
  } finally {
    clearTimeout(timer);
  }
}

/** The raw text of every event that arrived. */
export function eventsOf(body: Buffer): string[] {
  return SseParser.parseAll(body).map((e) => e.raw.toString('utf8'));
}

/** Parsed `data` of every event that has JSON data. */
export function dataOf(body: Buffer): { event: string | undefined; data: Record<string, unknown> }[] {
  return SseParser.parseAll(body)
    .filter((e) => e.data !== undefined && e.data !== '[DONE]')
    .map((e) => ({ event: e.event, data: JSON.parse(e.data!) as Record<string, unknown> }));
}
