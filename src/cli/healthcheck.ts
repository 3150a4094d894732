#!/usr/bin/env node
/**
 * The container health check (Dockerfile HEALTHCHECK): GET /healthz on the admin API, exit 0
 * when it answers 200, 1 otherwise. The address comes from FAULTGATE_ADMIN_URL, else from the
 * config's `admin.listen` (FAULTGATE_CONFIG, the file `start` reads), so changing the admin port
 * in the config cannot leave a health check probing the old one. A wildcard listen address
 * (0.0.0.0, ::) is probed on loopback.
 */
import { loadConfigFile } from '../config/load.js';

const TIMEOUT_MS = 2000;

function adminUrl(env: NodeJS.ProcessEnv): string {
  if (env.FAULTGATE_ADMIN_URL) return env.FAULTGATE_ADMIN_URL.replace(/\/$/, '');
  const file = env.FAULTGATE_CONFIG;
  if (!file) throw new Error('set FAULTGATE_ADMIN_URL or FAULTGATE_CONFIG');
  const loaded = loadConfigFile(file, env);
  if (!loaded.ok) throw new Error(`${file} is not a valid config`);
  const m = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(loaded.config.admin.listen)!;
  const host = m[1] === '0.0.0.0' ? '127.0.0.1' : m[1] === '[::]' ? '[::1]' : m[1];
  return `http://${host}:${m[2]}`;
}

async function main(): Promise<number> {
  try {
    const res = await fetch(`${adminUrl(process.env)}/healthz`, { signal: AbortSignal.timeout(TIMEOUT_MS) });
    await res.arrayBuffer();
    if (res.ok) return 0;
    process.stderr.write(`faultgate healthcheck: /healthz answered ${res.status}\n`);
  } catch (err) {
    process.stderr.write(`faultgate healthcheck: ${(err as Error).message}\n`);
  }
  return 1;
}

main().then((code) => {
  process.exitCode = code;
});
