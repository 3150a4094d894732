// biome-ignore-all lint/suspicious/noTemplateCurlyInString: the config syntax under test is ${VAR}, written in plain strings on purpose.
import { hostname } from 'node:os';
import { describe, expect, it } from 'vitest';
import { BASE, parsed, problems, yaml } from './fixtures.js';

describe('fleet: (SPEC section 10)', () => {
  it('is absent by default: a standalone instance', () => {
    expect(parsed(yaml(...BASE)).fleet).toBeUndefined();
  });

  it('fills defaults and substitutes ${VAR} in the URL (the password)', () => {
    const cfg = parsed(yaml(...BASE, 'fleet:', '  redis: rediss://:${REDIS_PW}@redis:6380/0'), {
      REDIS_PW: 's3cret',
    });
    expect(cfg.fleet).toEqual({
      redis: 'rediss://:s3cret@redis:6380/0',
      name: 'default',
      instance: hostname(),
      share_default: false,
      suspend_after_ms: 5000,
      resync_ms: 2000,
      outcome_buffer: 10_000,
    });
  });

  it('rejects a non-Redis URL, a bad name, a non-boolean share_default and a zero suspend_after_ms', () => {
    const text = yaml(
      ...BASE,
      'fleet:',
      '  redis: http://redis:6379',
      '  name: "a b"',
      '  instance: ""',
      '  share_default: yes please',
      '  suspend_after_ms: 0',
    );
    expect(problems(text).map(([, , path]) => path)).toEqual([
      'fleet.redis',
      'fleet.name',
      'fleet.instance',
      'fleet.share_default',
      'fleet.suspend_after_ms',
    ]);
  });

  it('needs the URL', () => {
    expect(problems(yaml(...BASE, 'fleet: { name: staging }')).map(([, , path, msg]) => [path, msg])).toEqual(
      [['fleet.redis', expect.stringContaining('')]],
    );
  });
});
