import { describe, expect, it } from 'vitest';
import { parseConfig, validateConfig } from '../../src/config/load.js';
import { closest } from '../../src/config/suggest.js';
import { FaultgateValidationError, startFaultgate } from '../../src/index.js';

const messages = (yaml: string) => {
  const r = parseConfig('c.yaml', yaml, {});
  if (r.ok) throw new Error('expected problems');
  return r.problems.map((p) => `${p.line}:${p.col}  ${p.path}  ${p.message}`);
};

describe('did you mean', () => {
  it('closest: typos within a third of the word, swapped letters, case; nothing for a stranger', () => {
    expect(closest('forwad', ['forward', 'listen', 'name'])).toBe('forward');
    expect(closest('forwrad', ['forward', 'listen'])).toBe('forward');
    expect(closest('Upstream', ['upstream', 'tls'])).toBe('upstream');
    expect(closest('lisen', ['listen', 'name'])).toBe('listen');
    expect(closest('zzzzzz', ['forward', 'listen'])).toBeUndefined();
    expect(closest('tl', ['tls', 'name'])).toBe('tls');
    expect(closest('x', ['tls', 'name'])).toBeUndefined();
  });

  it('validate names the key meant, at every depth, for fault configs by their type and aliases', () => {
    const yaml = `version: 1
listeners:
  - name: m
    listen: 127.0.0.1:0
    forwad: true
admn: {}
chaos: { levle: 1 }
tools:
  - { name: t, match: { pathh: /x } }
experiments:
  - { name: e, type: latency, config: { min_ms: 1, max_ms: 2, patern: fixed } }
  - { name: f, type: tool_unavailable, config: { stauts: 503 } }
zzzzzz: 1
`;
    expect(messages(yaml)).toEqual([
      '5:5  listeners[0].forwad  unknown key (did you mean "forward"?)',
      '6:1  admn  unknown key (did you mean "admin"?)',
      '7:10  chaos.levle  unknown key (did you mean "level"?)',
      '9:25  tools[0].match.pathh  unknown key (did you mean "path"?)',
      '11:63  experiments[0].config.patern  unknown key (did you mean "pattern"?)',
      '12:50  experiments[1].config.stauts  unknown key (did you mean "status"?)',
      '13:1  zzzzzz  unknown key',
    ]);
  });

  it('object configs (the library) get the same suggestions', async () => {
    const r = validateConfig({ version: 1, listeners: [{ name: 'm', listen: '127.0.0.1:0', forwad: true }] });
    expect(r.ok).toBe(false);
    expect(!r.ok && r.problems).toEqual([
      {
        file: '(config)',
        line: 0,
        col: 0,
        path: 'listeners[0].forwad',
        message: 'unknown key (did you mean "forward"?)',
      },
    ]);
    // @ts-expect-error: the typo is the point
    const err = await startFaultgate({ config: { slos: { availabilty: 0.9 } } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FaultgateValidationError);
    expect((err as Error).message).toContain('slos.availabilty  unknown key (did you mean "availability"?)');
  });
});
