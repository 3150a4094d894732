import type { Dispatcher } from 'undici';

/**
 * undici restarts its headers timeout on every 1xx response, so an upstream that sends
 * `102 Processing` forever would hold a request (and its client) forever. Armed on the first
 * 1xx only (no timer on the ordinary path), this deadline aborts the request when no final
 * response has started within `response_timeout_ms` of the request's start: a 504, as when
 * nothing at all arrives.
 */
export function informationalDeadline(
  controller: Dispatcher.DispatchController,
  startedAt: number,
  timeoutMs: number,
): NodeJS.Timeout {
  const left = Math.max(0, timeoutMs - (performance.now() - startedAt));
  const timer = setTimeout(() => {
    const err = Object.assign(new Error(`no final response within ${timeoutMs} ms (only 1xx)`), {
      code: 'UND_ERR_HEADERS_TIMEOUT',
    });
    if (!controller.aborted) controller.abort(err);
  }, left);
  timer.unref();
  return timer;
}
