import { createClient } from 'redis';
import { onTestFinished } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import type { Client } from '../../src/fleet/store.js';
import { startRedis } from '../helpers/redis.js';

/**
 * A real redis-server, a fleet config named `name` pointing at it (one listener, one tool) and
 * a connected client, closed when the test finishes: what the outcome-stream tests share.
 */
export async function fleetClient(name: string): Promise<{ config: Config; client: Client }> {
  const redis = await startRedis();
  const parsed = parseConfig(
    'fleet.yaml',
    `version: 1\nlisteners: [{ name: a, listen: "127.0.0.1:0", upstream: "http://127.0.0.1:9" }]\n` +
      `tools: [{ name: search, match: { path: /search } }]\nfleet: { redis: "${redis.url}", name: ${name}, instance: a }\n`,
    {},
    process.cwd(),
  );
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.problems));
  const client = createClient({ url: redis.url }) as unknown as Client;
  await client.connect();
  onTestFinished(() => void client.close());
  return { config: parsed.config, client };
}
