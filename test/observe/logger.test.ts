import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, headerHolders, secretHeaders } from '../../src/observe/logger.js';

/** A logger writing into an array of parsed lines. */
function capture(): { lines: Record<string, unknown>[]; logger: ReturnType<typeof createLogger> } {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      for (const line of String(chunk).split('\n')) if (line) lines.push(JSON.parse(line));
      cb();
    },
  });
  return { lines, logger: createLogger('info', sink) };
}

function nested(root: Record<string, unknown>, path: string): Record<string, string> {
  let at: unknown = root;
  for (const key of path.split('.')) at = (at as Record<string, unknown>)[key];
  return at as Record<string, string>;
}

function build(path: string, value: Record<string, string>): Record<string, unknown> {
  const keys = path.split('.');
  let out: Record<string, unknown> = { [keys.pop()!]: value };
  while (keys.length > 0) out = { [keys.pop()!]: out };
  return out;
}

describe('log redaction (SPEC section 9)', () => {
  it('redacts every secret header wherever a header map is logged, and nothing else', () => {
    const { lines, logger } = capture();
    for (const holder of headerHolders) {
      const headers: Record<string, string> = { accept: 'application/json', 'x-agent-id': 'planner' };
      for (const h of secretHeaders) headers[h] = `secret-${h}`;
      logger.info({ ...build(holder, headers), reqId: 7 }, `headers at ${holder}`);
    }
    expect(lines).toHaveLength(headerHolders.length);
    headerHolders.forEach((holder, i) => {
      const line = lines[i]!;
      const logged = nested(line, holder);
      for (const h of secretHeaders) expect(logged[h], `${holder}.${h}`).toBe('[redacted]');
      expect(logged.accept).toBe('application/json');
      expect(logged['x-agent-id']).toBe('planner');
      expect(line.reqId).toBe(7);
      expect(JSON.stringify(line)).not.toContain('secret-');
    });
  });

  it('leaves a line without header maps as it was', () => {
    const { lines, logger } = capture();
    const fields = { reqId: 1, agent: 'a', tenant: 't', tool: 'search', experiment: 'e', fault: 'error' };
    logger.info(fields, 'fault injected');
    expect(lines[0]).toMatchObject({ ...fields, msg: 'fault injected', name: 'faultgate' });
  });
});
