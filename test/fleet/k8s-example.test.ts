import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { parseConfig } from '../../src/config/load.js';

describe('config/kubernetes/fleet', () => {
  it('ships a proxy-tier config that validates, with the Redis password from the environment', () => {
    const cm = parse(readFileSync('config/kubernetes/fleet/configmap.yaml', 'utf8')) as {
      data: Record<string, string>;
    };
    const env = { FAULTGATE_ADMIN_TOKEN: 't', REDIS_PASSWORD: 'pw', HOSTNAME: 'tier-0' };
    const result = parseConfig('proxy.yaml', cm.data['proxy.yaml']!, env);
    if (!result.ok) throw new Error(JSON.stringify(result.problems));
    expect(result.config.fleet).toMatchObject({
      redis: 'redis://:pw@faultgate-redis:6379/0',
      name: 'staging',
      instance: 'tier-0',
    });
  });
});
