/**
 * What the data path reports at the end of every exchange (SPEC section 5's raw material). The
 * proxy fills it; the recovery tracker consumes it. Times are epoch milliseconds.
 */
export interface ExchangeOutcome {
  agent: string;
  tenant: string;
  tool: string;
  method: string;
  /** Path without the query string. */
  path: string;
  /**
   * Identifies the request body for retry detection: a sha1 of the body when identity read it
   * (an MCP matcher's peek), `len:<n>` from content-length otherwise, `chunked` for a chunked
   * body, '' for none. Fixed when the request is planned, so an attempt that a body fault read
   * and its retry get the same key.
   */
  bodyKey: string;
  startedAt: number;
  endedAt: number;
  /** HTTP status the client received, 0 when it received none (reset, close, hang, abort). */
  status: number;
  /** SPEC section 5: 5xx, 408, 429, reset/close/timeout, truncated or malformed body, broken stream. */
  success: boolean;
  /** Why it failed, when it did. */
  failure?: 'status' | 'transport' | 'broken_body' | 'client_abort';
  /** Fault types injected into this exchange (empty: none). */
  injected: readonly string[];
  /** An injected fault broke the body or stream (truncate, malformed, sse, reset mid-body). */
  brokenByFault: boolean;
  /** The Retry-After (ms) of an injected answer, if it carried one. */
  retryAfterMs?: number;
  /** The trace id (`trace.from`) of a faulted request: which agent run it belonged to. */
  trace?: string;
}

/** Receives every finished exchange (the recovery tracker). Must be cheap: it runs per request. */
export interface OutcomeSink {
  observe(outcome: ExchangeOutcome): void;
}
