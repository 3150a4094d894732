import { brotliDecompressSync, gunzipSync, inflateSync } from 'node:zlib';
/**
 * Token usage of LLM responses, read on the wire without changing a byte: whole JSON bodies
 * (OpenAI Chat Completions and Responses, Anthropic Messages, Gemini) and the final events of
 * their streams. Quotas and budgets count it when the response ends.
 */
import { Transform, type TransformCallback } from 'node:stream';
import { type SseEvent, SseParser } from '../../stream/sse-parser.js';
import type { FaultContext, ResponseEffect, ResponseHead } from '../types.js';
import { isEventStream } from '../../stream/http-body.js';

export interface Usage {
  /** Prompt tokens, cached ones included (Anthropic reports those separately; they are added). */
  inputTokens: number;
  /** Completion tokens, reasoning/thinking tokens included. */
  outputTokens: number;
  totalTokens: number;
  /** The model the response names (`model`, Gemini's `modelVersion`), if any. */
  model: string | undefined;
}

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function num(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : undefined;
}

function sum(...values: unknown[]): number | undefined {
  let total: number | undefined;
  for (const v of values) {
    const n = num(v);
    if (n !== undefined) total = (total ?? 0) + n;
  }
  return total;
}

/**
 * Usage as it accumulates over one response. Streams report cumulative counts (Anthropic's
 * `message_delta`, every Gemini chunk), so the latest value of each field wins.
 */
export class UsageTally {
  private input: number | undefined;
  private output: number | undefined;
  private total: number | undefined;
  private modelName: string | undefined;

  get model(): string | undefined {
    return this.modelName;
  }

  /** Reads one JSON value: a response body, a stream event's data, or a Gemini array of chunks. */
  read(value: unknown): void {
    if (Array.isArray(value)) {
      for (const v of value) this.read(v);
      return;
    }
    if (!isObject(value)) return;
    // Responses API events wrap the response; Anthropic's message_start wraps the message.
    if (isObject(value.response)) this.read(value.response);
    if (isObject(value.message)) this.read(value.message);
    const model = typeof value.model === 'string' ? value.model : value.modelVersion;
    if (typeof model === 'string' && model !== '') this.modelName ??= model;
    if (isObject(value.usage)) {
      const u = value.usage;
      this.set(
        sum(u.prompt_tokens, u.input_tokens, u.cache_creation_input_tokens, u.cache_read_input_tokens),
        sum(u.completion_tokens, u.output_tokens),
        num(u.total_tokens),
      );
    }
    if (isObject(value.usageMetadata)) {
      const u = value.usageMetadata;
      this.set(
        num(u.promptTokenCount),
        sum(u.candidatesTokenCount, u.thoughtsTokenCount),
        num(u.totalTokenCount),
      );
    }
  }

  private set(input: number | undefined, output: number | undefined, total: number | undefined): void {
    if (input === undefined && output === undefined && total === undefined) return;
    if (input !== undefined) this.input = input;
    if (output !== undefined) this.output = output;
    // A total stays true only until a later event changes the parts without restating it.
    this.total = total;
  }

  /** The response's usage, or undefined when it reported none. */
  result(): Usage | undefined {
    if (this.input === undefined && this.output === undefined && this.total === undefined) return undefined;
    const inputTokens = this.input ?? 0;
    const outputTokens = this.output ?? 0;
    return {
      inputTokens,
      outputTokens,
      totalTokens: this.total ?? inputTokens + outputTokens,
      model: this.model,
    };
  }
}

/** Parses JSON text into the tally; anything that is not JSON is ignored. */
function readText(tally: UsageTally, text: string | undefined): void {
  if (text === undefined || text === '[DONE]') return;
  try {
    tally.read(JSON.parse(text));
  } catch {
    // Not JSON (a keep-alive, a corrupted event): it carries no usage we could trust.
  }
}

/** Only events that can carry usage (or, until it is known, the model) are decoded and parsed. */
function readEvent(tally: UsageTally, event: SseEvent): void {
  if (event.raw.indexOf('"usage') === -1 && (tally.model !== undefined || event.raw.indexOf('"model') === -1))
    return;
  readText(tally, event.data);
}

/** Usage of a whole body: JSON, or an SSE stream when `sse`. */
export function usageOf(body: Buffer, sse: boolean): Usage | undefined {
  const tally = new UsageTally();
  if (sse) for (const event of SseParser.parseAll(body)) readEvent(tally, event);
  else readText(tally, body.toString('utf8'));
  return tally.result();
}

export interface UsageObserverOptions {
  sse: boolean;
  /** A JSON body larger than this is not kept (and its usage not read). */
  maxBodyBytes: number;
  onSkip(reason: string): void;
  /** Called once when the response ends (or is cut short: what a stream reported so far counts). */
  onUsage(usage: Usage): void;
  /**
   * The body's content-encoding: the observer decodes its own copy, so the client still gets
   * the bytes as the upstream sent them (an observer never changes the wire).
   */
  encoding?: string | undefined;
}

/** Decodes a bounded copy of a compressed JSON body; undefined when it cannot. */
function decodeCopy(body: Buffer, encoding: string, limit: number): Buffer | undefined {
  const options = { maxOutputLength: limit };
  try {
    switch (encoding.trim().toLowerCase()) {
      case 'gzip':
      case 'x-gzip':
        return gunzipSync(body, options);
      case 'deflate':
        return inflateSync(body, options);
      case 'br':
        return brotliDecompressSync(body, options);
      default:
        return undefined;
    }
  } catch {
    return undefined;
  }
}

/**
 * A pass-through Transform that forwards every chunk at once and unchanged while it reads the
 * usage: SSE events incrementally, a JSON body from a copy of at most `maxBodyBytes`.
 */
export function usageObserver(options: UsageObserverOptions): Transform {
  const tally = new UsageTally();
  const encoded = options.encoding !== undefined && options.encoding !== 'identity';
  if (options.sse && encoded) options.onSkip('undecodable content-encoding'); // compressed event streams are rare
  const parser = options.sse && !encoded ? new SseParser({ maxEventBytes: options.maxBodyBytes }) : undefined;
  let copy: Buffer[] | undefined = options.sse ? undefined : [];
  let size = 0;
  let done = false;
  const finish = (complete: boolean) => {
    if (done) return;
    done = true;
    if (parser) {
      const tail = parser.end();
      if (tail) readEvent(tally, tail);
    } else if (copy && complete) {
      let body: Buffer | undefined = Buffer.concat(copy, size);
      const encoding = options.encoding;
      if (encoding && encoding !== 'identity') body = decodeCopy(body, encoding, options.maxBodyBytes);
      if (body) readText(tally, body.toString('utf8'));
      else options.onSkip('undecodable content-encoding');
    }
    copy = undefined;
    const usage = tally.result();
    if (usage) options.onUsage(usage);
  };
  return new Transform({
    transform(chunk: Buffer, _enc, cb: TransformCallback) {
      if (parser) {
        for (const event of parser.push(chunk)) readEvent(tally, event);
      } else if (copy) {
        size += chunk.length;
        if (size > options.maxBodyBytes) {
          copy = undefined;
          options.onSkip('body over max_body_bytes');
        } else copy.push(Buffer.from(chunk)); // a copy: transforms downstream own the chunk
      }
      cb(null, chunk);
    },
    flush(cb: TransformCallback) {
      finish(true);
      cb();
    },
    destroy(err, cb) {
      finish(false);
      cb(err);
    },
  });
}

/**
 * The passive response effect that reports a successful response's usage, or undefined for
 * responses that cannot carry any (errors, bodies that are neither JSON nor an event stream).
 */
export function observeUsage(
  ctx: Pick<FaultContext, 'maxBodyBytes' | 'skipped'>,
  head: ResponseHead,
  onUsage: (usage: Usage) => void,
): ResponseEffect | undefined {
  if (head.status < 200 || head.status >= 300) return undefined;
  const type = String(head.headers['content-type'] ?? '').toLowerCase();
  const sse = isEventStream(head.headers);
  if (!sse && type !== '' && !type.includes('json')) return undefined;
  const stream = usageObserver({
    sse,
    maxBodyBytes: ctx.maxBodyBytes,
    onSkip: (reason) => ctx.skipped(reason),
    onUsage,
    encoding:
      typeof head.headers['content-encoding'] === 'string' ? head.headers['content-encoding'] : undefined,
  });
  return { stream, keepsLength: true, passive: true };
}

/** The model named in a JSON request body (`{"model": ...}`), if any. */
export function requestModel(body: Buffer): string | undefined {
  if (body.length === 0 || body.indexOf('"model"') === -1) return undefined;
  try {
    const value: unknown = JSON.parse(body.toString('utf8'));
    return isObject(value) && typeof value.model === 'string' ? value.model : undefined;
  } catch {
    return undefined;
  }
}

/** Gemini names the model in the path: `/v1beta/models/gemini-2.0-flash:generateContent`. */
export function pathModel(path: string): string | undefined {
  const m = /\/models\/([^/:?]+)/.exec(path);
  if (!m) return undefined;
  try {
    return decodeURIComponent(m[1]!);
  } catch {
    return m[1];
  }
}
