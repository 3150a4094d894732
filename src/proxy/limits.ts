import type { Server, ServerResponse } from 'node:http';
import { Counter, type Registry } from 'prom-client';
import { sendError } from '../errors.js';
import type { OverloadGate } from './context.js';

/** What a client over `limits.max_inflight` is told to wait before retrying. */
export const OVERLOAD_RETRY_AFTER_S = 1;

export interface OverloadLimits {
  /** Client connections per listener; 0 = no cap (the OS file limit is the only one). */
  max_connections: number;
  /** Requests in flight across the instance; 0 = no cap. */
  max_inflight: number;
}

/**
 * Overload protection for the data plane (the admin listener is never limited, so chaos can
 * always be stopped):
 * - `max_connections`: Node's `server.maxConnections`; a connection over it is closed as soon as
 *   it is accepted, before any byte is read (nothing to answer yet), like HAProxy's `maxconn`
 *   without a queue;
 * - `max_inflight`: a request over it is answered 503 `FAULTGATE_ERR_OVERLOADED` with
 *   `Retry-After`, without reaching an upstream or the chaos engine, like Envoy's overload
 *   manager. With the limit at 0 a request pays one comparison.
 */
export class OverloadGuard implements OverloadGate {
  private inflight = 0;
  private readonly rejected: Counter<'limit'>;

  constructor(
    registry: Registry,
    private readonly limits: () => OverloadLimits,
  ) {
    this.rejected = new Counter({
      name: 'faultgate_overload_rejections_total',
      help: 'Connections refused over limits.max_connections and requests answered 503 over limits.max_inflight',
      labelNames: ['limit'],
      registers: [registry],
    });
  }

  /** Requests currently counted against `max_inflight`. */
  get current(): number {
    return this.inflight;
  }

  /** Applies `max_connections` to a listener's server (again after a reload). */
  watch(server: Server, maxConnections: number): void {
    if (!server.listenerCount('drop')) server.on('drop', () => this.rejected.labels('max_connections').inc());
    // Node's default is "no limit"; its check skips a falsy value.
    server.maxConnections = maxConnections > 0 ? maxConnections : Number.POSITIVE_INFINITY;
  }

  /** False when the request was answered 503 because `max_inflight` requests are in flight. */
  admit(res: ServerResponse): boolean {
    const max = this.limits().max_inflight;
    if (max === 0) return true;
    if (this.inflight >= max) {
      this.rejected.labels('max_inflight').inc();
      res.shouldKeepAlive = false;
      res.req.resume();
      sendError(res, 'FAULTGATE_ERR_OVERLOADED', `${max} requests are in flight (limits.max_inflight)`, {
        headers: { 'retry-after': String(OVERLOAD_RETRY_AFTER_S) },
      });
      return false;
    }
    this.inflight++;
    const socket = res.socket;
    let done = false;
    // A pipelined response queued behind a dead socket never emits 'close': watch both.
    const release = () => {
      if (done) return;
      done = true;
      this.inflight--;
      socket?.off('close', release);
    };
    res.once('close', release);
    socket?.once('close', release);
    return true;
  }
}
