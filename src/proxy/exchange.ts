import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Dispatcher } from 'undici';
import { type ErrorCode, errorBody, errorCodes } from '../errors.js';
import type { Logger } from '../observe/logger.js';
import type { ExchangeStats, Metrics } from '../observe/metrics.js';
import type { ExchangeOutcome, OutcomeSink } from '../observe/outcome.js';
import type { ChaosRun } from './chaos-run.js';
import { isEventStream } from '../stream/http-body.js';
import { clientResponseHeaders } from './headers.js';
import { informationalDeadline } from './informational.js';
import { pathOnly } from './route.js';
import { classifyUpstreamError } from './upstream.js';

type Controller = Dispatcher.DispatchController;

/** Raised into undici when the client leaves, so the upstream request is cancelled. */
class ClientGoneError extends Error {
  override readonly name = 'ClientGoneError';
  readonly code = 'FAULTGATE_CLIENT_GONE';
}

/** Status codes SPEC section 5 counts as failures (besides transport failures). */
export function isFailureStatus(status: number): boolean {
  return status >= 500 || status === 408 || status === 429;
}

/** Sends faultgate's own JSON error, unless the response has already started. */
export function sendError(
  res: ServerResponse,
  code: ErrorCode,
  detail?: string,
  headers?: Record<string, string>,
): void {
  if (res.headersSent || res.destroyed) {
    res.destroy();
    return;
  }
  const body = errorBody(code, detail);
  res.writeHead(errorCodes[code].status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    'x-faultgate-error': code,
    ...headers,
  });
  res.end(body);
}

/** What an exchange needs from the instance, fixed for the request's lifetime. */
export interface ExchangeEnv {
  metrics: Metrics;
  logger: Logger;
  /** Receives every finished exchange (the recovery tracker), when tracking is on. */
  outcomes?: OutcomeSink | undefined;
  /** The running config, for `upstream.response_timeout_ms` when an upstream sends 1xx. */
  state?(): { config: { upstream: { response_timeout_ms: number } } };
}

type FailureKind = NonNullable<ExchangeOutcome['failure']>;

/**
 * One proxied request: an undici dispatch handler that streams the upstream response into
 * `res` with backpressure, and records the outcome exactly once.
 */
export class Exchange {
  protected controller: Controller | undefined;
  protected status = 0;
  protected finished = false;
  private readonly stats: ExchangeStats;
  private readonly socket: Socket;
  /** The request's chaos state, when any experiment fired. */
  run: ChaosRun | undefined;
  tenant = '';
  /** Identifies the request body for retry detection (see ExchangeOutcome.bodyKey). */
  bodyKey = '';
  private readonly startedEpoch = Date.now();
  /** Armed by the first 1xx: undici's own headers timeout restarts on each one. */
  private informational: NodeJS.Timeout | undefined;

  constructor(
    protected readonly env: ExchangeEnv,
    protected readonly req: IncomingMessage,
    protected readonly res: ServerResponse,
    readonly agent: string,
    readonly tool: string,
    private readonly startedAt: number,
    readonly requestId: number,
  ) {
    this.stats = env.metrics.exchange(agent, tool);
    res.on('drain', this.onDrain);
    res.on('close', this.onClientClose);
    // A pipelined response queued behind another never emits 'close' when the socket dies.
    // (Kept: Node detaches `req.socket` once the response is done.)
    this.socket = req.socket;
    this.socket.on('close', this.onClientClose);
  }

  /** Whether finished exchanges go to a recovery tracker. */
  get tracking(): boolean {
    return this.env.outcomes !== undefined;
  }

  protected readonly onDrain = (): void => {
    this.controller?.resume();
  };

  private readonly onClientClose = (): void => {
    // A response written to the end closes before a stream pipeline reports: not a client abort.
    if (this.finished || this.res.writableFinished) return;
    // The client left before the response ended: cancel the upstream request.
    const err = new ClientGoneError('client closed the connection');
    if (this.controller && !this.controller.aborted) this.controller.abort(err);
    // With an injected reset, close or hang, the connection ended because of the fault.
    this.finish(false, this.run && this.run.injected.length > 0 ? 'transport' : 'client_abort');
  };

  onRequestStart(controller: Controller): void {
    this.controller = controller;
    if (this.finished) controller.abort(new ClientGoneError('client closed the connection'));
  }

  onResponseStart(
    _c: Controller,
    status: number,
    headers: IncomingHttpHeaders,
    statusMessage?: string,
  ): void {
    if (status < 200) {
      // 1xx informational: the final response follows, within response_timeout_ms.
      const timeoutMs = this.env.state?.().config.upstream.response_timeout_ms;
      if (this.informational === undefined && timeoutMs !== undefined && this.controller)
        this.informational = informationalDeadline(this.controller, this.startedAt, timeoutMs);
      return;
    }
    clearTimeout(this.informational);
    this.status = status;
    if (status >= 500) this.env.metrics.upstreamError(this.tool, 'status');
    const out = clientResponseHeaders(headers);
    const marker = this.run?.marker();
    if (marker) out['x-faultgate-injected'] = marker;
    try {
      this.res.writeHead(status, statusMessage, out);
    } catch (err) {
      this.fail(err as Error, 'FAULTGATE_ERR_UPSTREAM', 'invalid response headers from the upstream');
      return;
    }
    // Clients of event streams wait for headers before the first event: send them now.
    if (isEventStream(headers)) this.res.flushHeaders();
  }

  onResponseData(controller: Controller, chunk: Buffer): void {
    if (!this.res.write(chunk)) controller.pause();
  }

  onResponseEnd(): void {
    this.res.end();
    this.finish(!isFailureStatus(this.status), 'status');
  }

  onResponseError(_c: Controller, err: Error): void {
    if (err instanceof ClientGoneError || this.finished) return;
    const failure = classifyUpstreamError(err);
    this.env.metrics.upstreamError(this.tool, failure.kind);
    const base = errorCodes[failure.code].message;
    this.fail(err, failure.code, failure.cause ? `${base} (${failure.cause})` : base);
  }

  /** A chaos answer was sent instead of calling the upstream. */
  answered(status: number): void {
    this.status = status;
    this.finish(!isFailureStatus(status), 'status');
  }

  /** Answers a JSON error, or, once the response has started, aborts it so the client sees a broken body. */
  protected fail(err: Error, code: ErrorCode, detail?: string): void {
    const { logger } = this.env;
    logger.warn(
      {
        reqId: this.requestId,
        agent: this.agent,
        tool: this.tool,
        code,
        err: err.message,
        midBody: this.res.headersSent,
      },
      'upstream failure',
    );
    this.finished = true;
    if (this.res.headersSent) this.res.destroy(err);
    else sendError(this.res, code, detail ?? errorCodes[code].message);
    if (this.controller && !this.controller.aborted) this.controller.abort(err);
    this.record(false, 'transport');
    this.req.resume(); // discard any unread request body so the socket can close cleanly
  }

  /** Whether an injected fault broke the body or stream (decided when the exchange ends). */
  protected isBroken(): boolean {
    return false; // no response fault here; ChaosExchange knows better
  }

  /** Records the outcome once; `kind` says why, when it is a failure. */
  protected finish(success: boolean, kind: FailureKind): void {
    if (this.finished) return;
    this.finished = true;
    this.record(success, kind);
  }

  private record(success: boolean, kind: FailureKind): void {
    clearTimeout(this.informational);
    this.res.off('drain', this.onDrain);
    this.socket.off('close', this.onClientClose);
    const run = this.run;
    const injected = run !== undefined && run.injected.length > 0;
    if (injected) (success ? this.stats.injectedSuccess : this.stats.injectedFailure).inc();
    else (success ? this.stats.success : this.stats.failure).inc();
    const elapsed = performance.now() - this.startedAt;
    this.stats.duration.observe(elapsed / 1000);
    const sink = this.env.outcomes;
    if (!sink) return;
    sink.observe({
      agent: this.agent,
      tenant: this.tenant,
      tool: this.tool,
      method: this.req.method ?? 'GET',
      path: pathOnly(this.req.url ?? '/'),
      bodyKey: this.bodyKey,
      startedAt: this.startedEpoch,
      endedAt: this.startedEpoch + elapsed,
      status: this.res.headersSent ? this.status : 0,
      success,
      ...(success ? {} : { failure: kind }),
      injected: run ? run.injectedTypes : [],
      brokenByFault: this.isBroken(),
      ...(run?.retryAfterMs !== undefined ? { retryAfterMs: run.retryAfterMs } : {}),
    });
  }
}
