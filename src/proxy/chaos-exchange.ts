import type { IncomingHttpHeaders } from 'node:http';
import { PassThrough, pipeline, type Transform } from 'node:stream';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';
import type { Dispatcher } from 'undici';
import type { CompiledExperiment } from '../chaos/experiment.js';
import type { FaultContext, ResponseEffect, ResponseHead } from '../faults/types.js';
import { Exchange, isFailureStatus } from './exchange.js';
import { isEventStream } from '../stream/http-body.js';
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
 * An exchange whose response goes through fault transforms: the upstream body is written into
 * a PassThrough (pausing undici when it is full) that is piped through every transform into `res`.
 */
export class ChaosExchange extends Exchange {
  private source: PassThrough | undefined;
  responseFaults: CompiledExperiment[] = [];
  private broken: (() => boolean) | undefined;

  protected override isBroken(): boolean {
    return this.broken?.() ?? false;
  }

  override onResponseStart(
    controller: Controller,
    status: number,
    headers: IncomingHttpHeaders,
    statusMessage?: string,
  ): void {
    if (this.responseFaults.length === 0) {
      super.onResponseStart(controller, status, headers, statusMessage);
      return;
    }
    if (status < 200) return;
    this.status = status;
    if (status >= 500) this.env.metrics.upstreamError(this.tool, 'status');
    const source = new PassThrough({ highWaterMark: 64 * 1024 });
    source.on('drain', () => controller.resume());
    // Until the pipeline owns it, an error on the source (an upstream failure while a fault
    // waits, a rejected head) must not become an uncaught 'error' event.
    source.on('error', () => {});
    this.source = source;
    const head: ResponseHead = { status, statusMessage, headers: clientResponseHeaders(headers) };
    this.applyFaults(head).catch((err: Error) =>
      this.fail(err, 'FAULTGATE_ERR_INTERNAL', `fault failed: ${err.message}`),
    );
  }

  override onResponseData(controller: Controller, chunk: Buffer): void {
    if (!this.source) super.onResponseData(controller, chunk);
    else if (!this.source.write(chunk)) controller.pause();
  }

  override onResponseEnd(): void {
    if (!this.source) super.onResponseEnd();
    else this.source.end();
  }

  override onResponseError(controller: Controller, err: Error): void {
    if (this.source && this.res.headersSent) {
      this.source.destroy(err);
      return;
    }
    super.onResponseError(controller, err);
  }

  private async applyFaults(head: ResponseHead): Promise<void> {
    const run = this.run!;
    let applied: Applied[] = [];
    for (const exp of this.responseFaults) {
      if (run.sessionAborted) break; // the session was aborted: the response goes on without faults
      const ctx = run.context(exp);
      const effect = await exp.fault.response!(ctx, head);
      if (run.clientGone || this.finished) return;
      if (run.sessionAborted) break;
      if (!effect) continue;
      if (!effect.passive) run.record(exp);
      applied.push({ effect, ctx, exp });
    }
    const encoding = head.headers['content-encoding'];
    const streams: (PassThrough | Transform)[] = [this.source!];
    const encoded = typeof encoding === 'string' && encoding !== 'identity';
    const bodyless = this.req.method === 'HEAD' || head.status === 204 || head.status === 304;
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
    for (const a of applied) if (a.effect.stream) streams.push(a.effect.stream);
    // Whether a fault broke the body is known only at the end: one that passed it through
    // untouched (a body shorter than the cut, not JSON) reported a skip and broke nothing.
    this.broken = () => applied.some((a) => a.effect.failure && !run.skippedExperiments.has(a.exp));
    if (applied.some((a) => a.effect.stream && !a.effect.keepsLength)) delete head.headers['content-length'];
    const marker = run.marker();
    if (marker) head.headers['x-faultgate-injected'] = marker;
    this.status = head.status;
    this.res.writeHead(head.status, head.statusMessage, head.headers);
    if (isEventStream(head.headers)) this.res.flushHeaders();
    pipeline([...streams, this.res], (err) => {
      if (err) {
        if (this.controller && !this.controller.aborted) this.controller.abort(err);
        if (!this.res.destroyed) this.res.destroy();
        this.finish(false, this.isBroken() ? 'broken_body' : 'transport');
      } else {
        const broken = this.isBroken();
        this.finish(!broken && !isFailureStatus(this.status), broken ? 'broken_body' : 'status');
      }
    });
  }
}
