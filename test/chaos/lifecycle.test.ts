/**
 * The engine's side of issue 11 without the wire (the wire tests are in
 * test/e2e/abort-sticks.test.ts): every way `default` can be gone or aborted stays so across
 * reloads until resume, and the reload diff names what happened.
 */
import { describe, expect, it } from 'vitest';
import { ChaosEngine } from '../../src/chaos/engine.js';
import { parseConfig } from '../../src/config/load.js';

const EXP = `experiments:
  - { name: boom, type: error, probability: 1, config: { status: [503] } }
`;

function config(extra = '', level = 1) {
  const yaml = `version: 1
listeners: [{ name: main, listen: "127.0.0.1:0" }]
chaos: { seed: 1, level: ${level} }
${EXP}${extra}`;
  const r = parseConfig('t.yaml', yaml, {});
  if (!r.ok) throw new Error(r.problems.map((p) => `${p.path} ${p.message}`).join('\n'));
  return r.config;
}

const fires = (engine: ChaosEngine) => engine.draw('a', 't', 'x') !== undefined;

describe('abort and resume in the engine', () => {
  it('a deleted default is not re-created by a reload; resume does', () => {
    const engine = new ChaosEngine(config());
    const def = engine.sessions.get('default')!;
    def.end('aborted', 'deleted');
    engine.sessions.delete('default');
    expect(engine.aborted?.reason).toBe('deleted');
    engine.reconfigure(config());
    expect(engine.sessions.has('default')).toBe(false);
    expect(fires(engine)).toBe(false);
    expect(engine.resume().state).toBe('running');
    expect(fires(engine)).toBe(true);
  });

  it('a stopped default is not restarted by a reload while chaos is aborted', () => {
    const engine = new ChaosEngine(config());
    engine.sessions.get('default')!.end('stopped');
    engine.abortAll('pager');
    const change = engine.reconfigure(config());
    expect(change.overrides.aborted?.reason).toBe('pager');
    expect(engine.sessions.get('default')!.state).toBe('stopped');
    expect(fires(engine)).toBe(false);
  });

  it('a session start re-arms chaos, but an aborted default stays aborted across reloads', () => {
    const engine = new ChaosEngine(config());
    engine.abortAll('pager');
    const other = engine.create({
      name: 'drill',
      experiments: [...config().experiments],
      targeting: { agent_ids: ['*'], tool_names: ['*'], tenant_ids: ['*'], percentage: 1 },
      safety: { ...config().safety },
      duration_s: null,
    });
    engine.start(other);
    expect(engine.aborted).toBeUndefined();
    const change = engine.reconfigure(config());
    expect(change.overrides).toEqual({});
    expect(engine.sessions.get('default')!.state).toBe('aborted');
  });

  it('a stopped default is re-created by a reload when chaos is armed', () => {
    const engine = new ChaosEngine(config());
    engine.sessions.get('default')!.end('stopped');
    engine.reconfigure(config());
    expect(engine.sessions.get('default')!.state).toBe('running');
  });

  it('the API level stays until the file level changes', () => {
    const engine = new ChaosEngine(config());
    engine.setLevel(3);
    expect(engine.reconfigure(config()).overrides).toEqual({ level: 3 });
    expect(engine.level).toBe(3);
    engine.reconfigure(config('', 2));
    expect(engine.level).toBe(2);
    expect(engine.levelSource).toBe('config');
  });

  it('keeps the compiled experiment (and its state) when its definition did not change', () => {
    const engine = new ChaosEngine(config());
    const before = engine.sessions.get('default')!.experiments[0];
    const change = engine.reconfigure(config('log: { level: warn }\n'));
    expect(change.experiments).toEqual({ added: [], removed: [], changed: [], kept: ['boom'] });
    expect(engine.sessions.get('default')!.experiments[0]).toBe(before);
  });
});

describe('schedules across reloads', () => {
  it("a changed experiment's schedule counts from the reload; a kept one from the session start", () => {
    let now = 0;
    const scheduled = (after: number, status = 503) => `experiments:
  - { name: later, type: error, probability: 1, config: { status: [${status}] }, schedule: { after_s: ${after} } }
`;
    const yaml = (exp: string) => {
      const r = parseConfig(
        't.yaml',
        `version: 1\nlisteners: [{ name: main, listen: "127.0.0.1:0" }]\n${exp}`,
        {},
      );
      if (!r.ok) throw new Error('bad config');
      return r.config;
    };
    const engine = new ChaosEngine(yaml(scheduled(10)), () => now);
    now = 10_000;
    expect(fires(engine)).toBe(true);
    engine.reconfigure(yaml(scheduled(10)));
    expect(fires(engine)).toBe(true); // kept: still 10 s after the session start
    engine.reconfigure(yaml(scheduled(10, 500)));
    expect(fires(engine)).toBe(false); // changed: 10 s after this reload
    now = 20_000;
    expect(fires(engine)).toBe(true);
  });
});
