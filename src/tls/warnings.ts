import { isNode, LineCounter, parseDocument } from 'yaml';
import type { Config } from '../config/schema.js';
import { isLoopback } from '../net.js';

/** Listeners that intercept TLS for anyone who can reach them while the admin API has no token. */
export function exposedInterceptors(config: Config): number[] {
  if (config.admin.token !== '') return [];
  const out: number[] = [];
  config.listeners.forEach((l, i) => {
    if (l.tls === 'intercept' && !isLoopback(l.listen)) out.push(i);
  });
  return out;
}

export function exposedInterceptorMessage(listen: string): string {
  return (
    `warning: tls: intercept on ${listen}, reachable beyond loopback, without admin.token: ` +
    'whoever reaches the admin API can steer faults into TLS traffic this proxy decrypts; set admin.token ' +
    '(or listen on 127.0.0.1)'
  );
}

/**
 * `validate`'s warnings (the config is valid, exit 0), as `FILE:LINE:COL  path  message` at
 * the `tls` key of each exposed intercepting listener.
 */
export function interceptWarnings(file: string, text: string, config: Config): string[] {
  const indices = exposedInterceptors(config);
  if (indices.length === 0) return [];
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines });
  return indices.map((i) => {
    const node = doc.getIn(['listeners', i, 'tls'], true);
    const pos = isNode(node) && node.range ? lines.linePos(node.range[0]) : { line: 0, col: 0 };
    return `${file}:${pos.line}:${pos.col}  listeners[${i}].tls  ${exposedInterceptorMessage(config.listeners[i]!.listen)}`;
  });
}
