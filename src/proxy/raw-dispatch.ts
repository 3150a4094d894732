import type { Dispatcher } from 'undici';
import type { Exchange } from './exchange.js';

/**
 * The no-fault path's undici handler. undici's core speaks the callback protocol (`onConnect`,
 * `onHeaders`, `onData`, ...); a handler written against the controller API is wrapped per
 * request in two more objects, and its response headers are parsed into an object that
 * faultgate then copied into another one. This handler is that wrapper and that controller in
 * one object, and passes the raw header list straight to the Exchange, which writes it as a
 * flat list. Faulted requests keep the controller API (FaultHandler wraps the Exchange).
 */
export class RawDispatch implements Dispatcher.DispatchController {
  private abortUpstream: ((reason: Error) => void) | undefined;
  private resumeUpstream: (() => void) | undefined;
  paused = false;
  aborted = false;
  reason: Error | null = null;

  constructor(private readonly exchange: Exchange) {}

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.resumeUpstream?.();
  }

  abort(reason: Error): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    this.abortUpstream?.(reason);
  }

  onConnect(abort: (reason: Error) => void): void {
    this.abortUpstream = abort;
    this.exchange.onRequestStart(this);
  }

  onHeaders(status: number, rawHeaders: Buffer[], resume: () => void, statusText?: string): boolean {
    this.resumeUpstream = resume;
    this.exchange.onRawResponseStart(status, rawHeaders, statusText);
    return !this.paused;
  }

  onData(chunk: Buffer): boolean {
    this.exchange.onResponseData(this, chunk);
    return !this.paused;
  }

  onComplete(): void {
    this.exchange.onResponseEnd();
  }

  onError(err: Error): void {
    this.exchange.onResponseError(this, err);
  }
}
