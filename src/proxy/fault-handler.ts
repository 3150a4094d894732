import type { IncomingHttpHeaders } from 'node:http';
import { PassThrough, pipeline, type Transform, Writable } from 'node:stream';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';
import type { Dispatcher } from 'undici';
import type { CompiledExperiment } from '../chaos/experiment.js';
import type { FaultContext, ResponseEffect } from '../faults/types.js';
import type { ResponseHead } from '../types.js';
import type { ChaosRun } from './chaos-run.js';
import type { Exchange } from './exchange.js';
import { clientResponseHeaders } from './headers.js';

type Controller = Dispatcher.DispatchController;

function decoderFor(encoding: string): Transform | undefined {
  switch (encoding.trim().toLowerCase()) {
    case 'gzip':
    case 'x-gzip':
      return createGunzip();
    case 'deflate':
      return createInflate();
    case 'br':
      return createBrotliDecompress();
    default:
      return undefined;
  }
}

interface Applied {
  effect: ResponseEffect;
  ctx: FaultContext;
  exp: CompiledExperiment;
}

/**
 * The controller the wrapped handler sees. It pauses the fault output rather than the upstream
 * (whose pace the PassThrough's backpressure sets), and an abort ends both.
 */
class OutputControl implements Controller {
  private pending: (() => void) | undefined;
  private held = false;
  private abortedWith: Error | null = null;

  constructor(private readonly handler: FaultHandler) {}

  get aborted(): boolean {
    return this.abortedWith !== null;
  }
  get paused(): boolean {
    return this.held;
  }
  get reason(): Error | null {
    return this.abortedWith;
  }
  pause(): void {
    this.held = true;
  }
  resume(): void {
    this.held = false;
    const next = this.pending;
    this.pending = undefined;
    next?.();
  }
  abort(reason: Error): void {
    if (this.abortedWith) return;
    this.abortedWith = reason;
    this.handler.abort(reason);
  }
  /** Calls `next` now, or once the wrapped handler resumes. */
  whenFlowing(next: () => void): void {
    if (this.held) this.pending = next;
    else next();
  }
}

/**
 * Response faults as an undici dispatch handler wrapped around the Exchange (the DecoratorHandler
 * shape): it runs each fault's response hook on the head, then hands the body through the
 * fault transforms (decoded first when a transform reads it) to the Exchange as ordinary
 * `onResponseData` / `onResponseEnd` calls. Backpressure holds on both sides: the upstream
 * pauses while the transforms are full, the transforms while the client is.
 */
export class FaultHandler implements Dispatcher.DispatchHandler {
  private upstream: Controller | undefined;
  private source: PassThrough | undefined;
  private readonly control = new OutputControl(this);

  constructor(
    private readonly next: Exchange,
    private readonly run: ChaosRun,
    /** The fired experiments that have a response hook, in config order. */
    private readonly faults: readonly CompiledExperiment[],
  ) {}

  onRequestStart(controller: Controller): void {
    this.upstream = controller;
    this.next.onRequestStart(this.control);
  }

  onResponseStart(
    controller: Controller,
    status: number,
    headers: IncomingHttpHeaders,
    statusMessage?: string,
  ): void {
    if (status < 200) return; // 1xx informational: the final response follows.
    this.next.upstreamResponded(status);
    const source = new PassThrough({ highWaterMark: 64 * 1024 });
    source.on('drain', () => controller.resume());
    // Until the pipeline owns it, an error on the source (an upstream failure while a fault
    // waits, a rejected head) must not become an uncaught 'error' event.
    source.on('error', () => {});
    this.source = source;
    const head: ResponseHead = { status, statusMessage, headers: clientResponseHeaders(headers) };
    this.applyFaults(head, source).catch((err: Error) =>
      this.next.fail(err, 'FAULTGATE_ERR_INTERNAL', `fault failed: ${err.message}`),
    );
  }

  onResponseData(controller: Controller, chunk: Buffer): void {
    if (!this.source!.write(chunk)) controller.pause();
  }

  onResponseEnd(): void {
    this.source!.end();
  }

  onResponseError(_c: Controller, err: Error): void {
    // Mid-body, the client already has a head: the broken stream ends the response.
    if (this.source && this.next.headSent) {
      this.source.destroy(err);
      return;
    }
    this.source?.destroy();
    this.next.onResponseError(this.control, err);
  }

  /** The wrapped handler gave up (client gone, failure): cancel the upstream and the transforms. */
  abort(reason: Error): void {
    if (this.upstream && !this.upstream.aborted) this.upstream.abort(reason);
    this.source?.destroy(reason);
  }

  private async applyFaults(head: ResponseHead, source: PassThrough): Promise<void> {
    const { run, next } = this;
    let applied: Applied[] = [];
    for (const exp of this.faults) {
      if (run.sessionAborted) break; // the session was aborted: the response goes on without faults
      const ctx = run.context(exp);
      const effect = await exp.fault.response!(ctx, head);
      if (run.clientGone || next.done) return;
      if (run.sessionAborted) break;
      if (!effect) continue;
      if (!effect.passive) run.record(exp);
      applied.push({ effect, ctx, exp });
    }
    const streams: Transform[] = [source];
    const encoding = head.headers['content-encoding'];
    const encoded = typeof encoding === 'string' && encoding !== 'identity';
    const method = run.plan.req.method;
    const bodyless = method === 'HEAD' || head.status === 204 || head.status === 304;
    // Passive observers (usage counting) never change what the client gets: no decoding for them.
    if (encoded && !bodyless && applied.some((a) => a.effect.needsDecoded && !a.effect.passive)) {
      const decoder = decoderFor(encoding);
      if (decoder) {
        // Transforms read plain bytes; the client gets them uncompressed, and the header says so.
        streams.push(decoder);
        delete head.headers['content-encoding'];
        delete head.headers['content-length'];
      }
    }
    if (encoded && streams.length === 1) {
      applied = applied.filter((a) => {
        if (a.effect.needsDecoded) a.ctx.skipped('undecodable content-encoding');
        return !a.effect.needsDecoded;
      });
    }
    for (const a of applied) {
      if (a.effect.stream) streams.push(a.effect.stream);
      if (a.effect.failure) run.bodyBreakers.push(a.exp);
    }
    if (applied.some((a) => a.effect.stream && !a.effect.keepsLength)) delete head.headers['content-length'];
    next.sendHead(head.status, head.statusMessage, head.headers);
    if (next.done) return;
    pipeline([...streams, this.output()], (err) => {
      if (err) next.streamFailed(err);
    });
  }

  /** The end of the transform chain: bytes go to the wrapped handler, paced by its controller. */
  private output(): Writable {
    const { next, control } = this;
    return new Writable({
      write(chunk: Buffer, _enc, callback) {
        next.onResponseData(control, chunk);
        control.whenFlowing(callback);
      },
      final(callback) {
        next.onResponseEnd();
        callback();
      },
    });
  }
}
