/**
 * An event-by-event Transform over a `text/event-stream` body for faults that act on single
 * events. Framing is incremental (SseParser): nothing is buffered beyond the event being
 * framed, and every event the handler passes on goes out as its exact upstream bytes.
 */
import { Transform, type TransformCallback } from 'node:stream';
import { type SseEvent, SseParser } from './sse-parser.js';

/** What the transform needs from the request it runs in (a fault's context satisfies it). */
export interface SseStreamControl {
  /** Aborted when the request is over: a stalled or cut stream stops waiting. */
  readonly signal: AbortSignal;
  /** Ends the client connection once the events before a cut were written. */
  cutConnection(how: 'reset' | 'close'): void;
}

/** What a handler may do with the stream at the event it is looking at. */
export interface SseSink {
  /** Sends bytes to the client (an event's `raw` for an untouched event). */
  push(bytes: Buffer): void;
  /**
   * Ends the client's stream cleanly now; the rest of the upstream stream is discarded, and the
   * upstream request is cancelled when the client's response closes.
   */
  end(): void;
  /** Cuts the client connection (FIN, no final chunk) once what was pushed has gone out. */
  cut(): void;
  /** Sends nothing more and holds the response open until the request ends (the client leaves). */
  stall(): void;
}

/**
 * Called once per complete event, in order. Returning a promise (a wait) holds the stream
 * until it settles. Incomplete pieces (a stream that ends mid-event, an oversized event) never
 * reach the handler: they pass through untouched while the stream is open.
 */
export type SseEventHandler = (event: SseEvent, sink: SseSink) => void | Promise<void>;

type State = 'open' | 'ended' | 'cut' | 'stalled';

/** How many event-loop turns a cut waits, at most, for the events before it to be taken. */
const MAX_CUT_WAIT_TURNS = 200;

export class SseEventTransform extends Transform {
  readonly #parser = new SseParser();
  readonly #ctx: SseStreamControl;
  readonly #handler: SseEventHandler;
  #state: State = 'open';
  /** Bytes of the current input chunk, pushed as one write so the wire keeps few chunks. */
  #batch: Buffer[] = [];
  #onAbort: (() => void) | undefined;
  readonly #sink: SseSink = {
    push: (bytes) => {
      if (this.#state === 'open') this.#batch.push(bytes);
    },
    end: () => this.#stop('ended'),
    cut: () => this.#stop('cut'),
    stall: () => this.#stop('stalled'),
  };

  constructor(ctx: SseStreamControl, handler: SseEventHandler) {
    super();
    this.#ctx = ctx;
    this.#handler = handler;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    if (this.#state !== 'open') {
      cb(); // after the stream stopped, the upstream's remaining bytes are discarded
      return;
    }
    this.#run(this.#parser.push(chunk), 0, cb);
  }

  override _flush(cb: TransformCallback): void {
    const tail = this.#parser.end();
    if (tail && this.#state === 'open') this.#batch.push(tail.raw);
    this.#send();
    if (this.#state === 'open' || this.#state === 'ended' || this.#ctx.signal.aborted) {
      cb();
      return;
    }
    // The upstream finished, but a stall holds the response open until the request ends, and
    // a cut must come before the response could end cleanly.
    this.#onAbort = () => cb();
    this.#ctx.signal.addEventListener('abort', this.#onAbort, { once: true });
  }

  override _destroy(err: Error | null, cb: (error?: Error | null) => void): void {
    if (this.#onAbort) this.#ctx.signal.removeEventListener('abort', this.#onAbort);
    this.#batch = [];
    cb(err);
  }

  /** Hands events to the handler from `i` on; synchronous handlers never leave the loop. */
  #run(events: readonly SseEvent[], i: number, cb: TransformCallback): void {
    for (; i < events.length && this.#state === 'open'; i++) {
      const event = events[i]!;
      if (event.incomplete) {
        this.#batch.push(event.raw);
        continue;
      }
      let wait: void | Promise<void>;
      try {
        wait = this.#handler(event, this.#sink);
      } catch (err) {
        cb(err as Error); // a broken stream for the client, never a crash
        return;
      }
      if (wait) {
        this.#send(); // what came before the wait goes out before it
        const next = i + 1;
        wait.then(
          () => (this.destroyed ? cb() : this.#run(events, next, cb)),
          (err: Error) => cb(err),
        );
        return;
      }
    }
    this.#send();
    cb();
  }

  #send(): void {
    const batch = this.#batch;
    if (batch.length === 0) return;
    this.#batch = [];
    this.push(batch.length === 1 ? batch[0] : Buffer.concat(batch));
  }

  #stop(state: Exclude<State, 'open'>): void {
    if (this.#state !== 'open') return;
    this.#send();
    this.#state = state;
    if (state === 'ended') {
      this.push(null);
      // The client's response is complete; once it is closed, stop reading the upstream.
      const stopReading = () => {
        if (!this.writableFinished) this.destroy();
      };
      this.#ctx.signal.addEventListener('abort', stopReading, { once: true });
    } else if (state === 'cut') this.#cutWhenSent(0);
  }

  /**
   * A cut must not lose the events before it: wait until the client side has taken this
   * transform's output (a few event-loop turns, bounded), then close the socket.
   */
  #cutWhenSent(turns: number): void {
    if (this.destroyed) return;
    if (this.readableLength > 0 && turns < MAX_CUT_WAIT_TURNS) {
      setImmediate(() => this.#cutWhenSent(turns + 1));
      return;
    }
    setImmediate(() => this.#ctx.cutConnection('close'));
  }
}

/** A UTF-8 BOM opens the stream at most once; it stays where it was and never moves into data. */
const BOM = '\uFEFF';

/**
 * The event with new `data` (and optionally a new `event:` name): other fields, comments,
 * the line-break style and the terminating blank line stay as they were. Multi-line data is
 * written as one `data:` line per line, where the first data line was.
 */
export function withData(event: SseEvent, data: string, name?: string): Buffer {
  let text = event.raw.toString('utf8');
  const bom = text.startsWith(BOM) ? BOM : '';
  if (bom) text = text.slice(1);
  const eol = /\r\n|\r|\n/.exec(text)?.[0] ?? '\n';
  const out: string[] = [];
  let placed = false;
  for (const line of text.split(/\r\n|\r|\n/)) {
    if (isField(line, 'data')) {
      if (!placed) for (const part of data.split(/\r\n|\r|\n/)) out.push(`data: ${part}`);
      placed = true;
    } else if (name !== undefined && isField(line, 'event')) out.push(`event: ${name}`);
    else out.push(line);
  }
  return Buffer.from(bom + out.join(eol));
}

function isField(line: string, name: string): boolean {
  return line.startsWith(name) && (line.length === name.length || line[name.length] === ':');
}

export { isEventStreamType } from './http-body.js';
