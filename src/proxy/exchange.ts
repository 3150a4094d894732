import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Dispatcher } from 'undici';
import { type ErrorCode, errorCodes, sendError } from '../errors.js';
import type { ExchangeStats } from '../observe/metrics.js';
import type { ExchangeOutcome } from '../observe/outcome.js';
import { isEventStream } from '../stream/http-body.js';
import type { ChaosRun } from './chaos-run.js';
import type { ProxyEnv, RequestPlan } from './context.js';
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
function isFailureStatus(status: number): boolean {
  return status >= 500 || status === 408 || status === 429;
}

type FailureKind = NonNullable<ExchangeOutcome['failure']>;

/**
 * An event stream's head goes out at the end of the current parse, unless a body chunk came in
 * the same read and already carried it: head and first event then leave in one write (one
 * syscall, one wake-up of the client) instead of two. A module function, not a closure, so
 * that no request pays an allocation for it.
 */
function flushEventStreamHead(exchange: Exchange): void {
  exchange.flushHeadIfIdle();
}

/** The injected list of a request without chaos (shared: the tracker only reads it). */
const NONE: readonly string[] = Object.freeze([]);

/**
 * One proxied request, as the innermost undici dispatch handler: it streams the response into
 * `res` with backpressure and records the outcome exactly once. Response faults wrap it (see
 * FaultHandler); it never knows whether the bytes it gets came from the upstream or a fault.
 */
export class Exchange implements Dispatcher.DispatchHandler {
  private controller: Controller | undefined;
  private status = 0;
  private finished = false;
  private readonly stats: ExchangeStats;
  /** The client socket (Node detaches `req.socket` once the response is done). */
  private readonly socket: Socket;
  /**
   * Arrival on the same clock as `startedAt` (timeOrigin + performance.now()), not `Date.now()`
   * at construction: a millisecond-truncated epoch taken later than arrival made a failure seem
   * to end after an immediate retry began, so the retry went unseen.
   */
  private readonly startedEpoch: number;
  /** Armed by the first 1xx: undici's own headers timeout restarts on each one. */
  private informational: NodeJS.Timeout | undefined;
  /** A 'drain' listener is on `res` (added only when a write was refused). */
  private draining = false;
  /** A body chunk was written to `res` (it carried the head with it). */
  private bodyStarted = false;

  constructor(
    private readonly env: ProxyEnv,
    private readonly plan: RequestPlan,
    private readonly res: ServerResponse,
    /** The request's chaos state, when any experiment fired. */
    private readonly run: ChaosRun | undefined,
  ) {
    this.stats = env.metrics.exchange(plan.agent, plan.tool);
    this.startedEpoch = performance.timeOrigin + plan.startedAt;
    res.on('close', this.onClientClose);
    // A pipelined response queued behind another never emits 'close' when the socket dies.
    this.socket = plan.req.socket;
    this.socket.on('close', this.onClientClose);
  }

  /** The outcome is recorded: nothing more may be written. */
  get done(): boolean {
    return this.finished;
  }

  /** The client has the response head. */
  get headSent(): boolean {
    return this.res.headersSent;
  }

  private readonly onDrain = (): void => {
    this.draining = false;
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
      if (this.informational === undefined && this.controller) {
        const timeoutMs = this.env.state().config.upstream.response_timeout_ms;
        this.informational = informationalDeadline(this.controller, this.plan.startedAt, timeoutMs);
      }
      return;
    }
    clearTimeout(this.informational);
    this.upstreamResponded(status);
    this.sendHead(status, statusMessage, clientResponseHeaders(headers));
  }

  /** The upstream's own status (before any fault changed it): counted, and what the outcome reports. */
  upstreamResponded(status: number): void {
    this.status = status;
    if (status >= 500) this.env.metrics.upstreamError(this.plan.tool, 'status');
  }

  /** Writes the response head the client gets (`headers` already without hop-by-hop ones). */
  sendHead(status: number, statusMessage: string | undefined, headers: IncomingHttpHeaders): void {
    this.status = status;
    const marker = this.run?.marker();
    if (marker) headers['x-faultgate-injected'] = marker;
    try {
      this.res.writeHead(status, statusMessage, headers);
    } catch (err) {
      this.fail(err as Error, 'FAULTGATE_ERR_UPSTREAM', 'invalid response headers from the upstream');
      return;
    }
    // Clients of event streams wait for headers before the first event: send them in this
    // tick, with the first event when undici parsed it from the same read.
    if (isEventStream(headers)) process.nextTick(flushEventStreamHead, this);
  }

  /** Sends a head that no body chunk has carried yet (see flushEventStreamHead). */
  flushHeadIfIdle(): void {
    if (!this.bodyStarted && !this.finished && !this.res.destroyed) this.res.flushHeaders();
  }

  onResponseData(controller: Controller, chunk: Buffer): void {
    const { res } = this;
    this.bodyStarted = true;
    if (!res.write(chunk)) {
      controller.pause();
      // Listening only once a write is refused: a small response never adds a listener.
      if (!this.draining) {
        this.draining = true;
        res.once('drain', this.onDrain);
      }
    }
  }

  onResponseEnd(): void {
    this.res.end();
    const broken = this.run?.brokeBody() ?? false;
    this.finish(!broken && !isFailureStatus(this.status), broken ? 'broken_body' : 'status');
  }

  onResponseError(_c: Controller, err: Error): void {
    if (err instanceof ClientGoneError || this.finished) return;
    const failure = classifyUpstreamError(err);
    this.env.metrics.upstreamError(this.plan.tool, failure.kind);
    const base = errorCodes[failure.code].message;
    this.fail(err, failure.code, failure.cause ? `${base} (${failure.cause})` : base);
  }

  /** A request fault answered instead of the upstream. */
  servedByFault(status: number): void {
    this.status = status;
    this.finish(!isFailureStatus(status), 'status');
  }

  /** A faulted body stream failed after the head went out (a cut, a transform error). */
  streamFailed(err: Error): void {
    if (this.controller && !this.controller.aborted) this.controller.abort(err);
    if (!this.res.destroyed) this.res.destroy();
    this.finish(false, this.run?.brokeBody() ? 'broken_body' : 'transport');
  }

  /** Answers a JSON error, or, once the response has started, aborts it so the client sees a broken body. */
  fail(err: Error, code: ErrorCode, detail?: string): void {
    const { plan } = this;
    this.env.logger.warn(
      {
        reqId: plan.requestId,
        agent: plan.agent,
        tool: plan.tool,
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
    plan.req.resume(); // discard any unread request body so the socket can close cleanly
  }

  /** Records the outcome once; `kind` says why, when it is a failure. */
  private finish(success: boolean, kind: FailureKind): void {
    if (this.finished) return;
    this.finished = true;
    this.record(success, kind);
  }

  private record(success: boolean, kind: FailureKind): void {
    clearTimeout(this.informational);
    if (this.draining) this.res.off('drain', this.onDrain);
    this.socket.off('close', this.onClientClose);
    const { run, plan } = this;
    const injected = run !== undefined && run.injected.length > 0;
    if (injected) (success ? this.stats.injectedSuccess : this.stats.injectedFailure).inc();
    else (success ? this.stats.success : this.stats.failure).inc();
    const elapsed = performance.now() - plan.startedAt;
    this.stats.duration.observe(elapsed / 1000);
    const sink = this.env.outcomes;
    if (!sink) return;
    sink.observe({
      agent: plan.agent,
      tenant: plan.tenant,
      tool: plan.tool,
      method: plan.req.method ?? 'GET',
      path: pathOnly(plan.req.url ?? '/'),
      bodyKey: plan.bodyKey,
      startedAt: this.startedEpoch,
      endedAt: this.startedEpoch + elapsed,
      status: this.res.headersSent ? this.status : 0,
      success,
      // One object of one shape per request: no spread temporaries, the optional fields set to
      // undefined rather than left out.
      failure: success ? undefined : kind,
      injected: run ? run.injectedTypes : NONE,
      brokenByFault: run?.brokeBody() ?? false,
      retryAfterMs: run?.retryAfterMs,
      trace: run?.trace,
    });
  }
}
