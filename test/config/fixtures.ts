import { type ConfigProblem, parseConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';

export const FILE = '/etc/faultgate/proxy.yaml';

/** Lines 1-4 of most fixtures: the smallest valid config. Line N of a fixture is `rows[N - 1]`. */
export const BASE = ['version: 1', 'listeners:', '  - name: main', '    listen: 127.0.0.1:0'];

export const yaml = (...rows: string[]): string => `${rows.join('\n')}\n`;

/** `[line, col, path, message]`, so a whole list of problems compares in one assertion. */
export type Located = [number, number, string, string];

export function problems(text: string, env: NodeJS.ProcessEnv = {}): Located[] {
  const result = parseConfig(FILE, text, env);
  if (result.ok) throw new Error('expected the config to be rejected');
  return result.problems.map((p: ConfigProblem) => [p.line, p.col, p.path, p.message]);
}

export function parsed(text: string, env: NodeJS.ProcessEnv = {}): Config {
  const result = parseConfig(FILE, text, env);
  if (!result.ok) {
    const list = result.problems.map((p) => `${p.line}:${p.col} ${p.path} ${p.message}`).join('\n');
    throw new Error(`expected a valid config, got:\n${list}`);
  }
  return result.config;
}
