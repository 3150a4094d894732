import type { Logger } from '../observe/logger.js';
import type { Registry } from 'prom-client';
import type { ChaosEngine } from '../chaos/engine.js';
import type { Config } from '../config/schema.js';

/** What an instance's fleet link reads from the instance (a leaf, so fleet parts can share it). */
export interface FleetDeps {
  engine(): ChaosEngine;
  config(): Config;
  logger: Logger;
  registry: Registry;
}
