import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FUZZ_KINDS, fuzzCase } from './fuzz-cases.js';
import { runCases, startEcho, summarise } from './fuzz-run.js';

/**
 * `npm run fuzz -- [CASES] [--seed N] [--concurrency N]`: the suite's HTTP fuzz, longer, against
 * a real `faultgate start` process. Exits 1 when a case broke a rule, the process died, or it
 * kept file descriptors it should have closed. Writes `.reliability/fuzz-long.json`.
 */

function option(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  return i === -1 ? fallback : Number(process.argv[i + 1]);
}

const positional = process.argv
  .slice(2)
  .find((a, i, all) => /^\d+$/.test(a) && !all[i - 1]?.startsWith('--'));
const CASES = Number(positional ?? 2000);
const SEED = option('--seed', Date.now() % 100_000);
const CONCURRENCY = option('--concurrency', 32);
const MAX_HEADER_BYTES = 16_384;

const fds = (pid: number) => readdirSync(`/proc/${pid}/fd`).length;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function startFaultgate(echoPort: number) {
  const dir = mkdtempSync(join(tmpdir(), 'faultgate-fuzz-'));
  const file = join(dir, 'proxy.yaml');
  writeFileSync(
    file,
    `version: 1
listeners:
  - { name: main, listen: "127.0.0.1:0", upstream: "http://127.0.0.1:${echoPort}", forward: true, allow_hosts: ["127.0.0.1"] }
admin: { listen: "127.0.0.1:0" }
limits: { max_header_bytes: ${MAX_HEADER_BYTES}, headers_timeout_ms: 1000, request_timeout_ms: 2000, keep_alive_timeout_ms: 500, client_idle_timeout_ms: 3000 }
log: { level: info }
`,
  );
  const child = spawn(process.execPath, ['dist/src/cli.js', 'start', '-c', file], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    let buf = '';
    child.once('exit', (code) => reject(new Error(`faultgate exited with ${code}`)));
    child.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      const m =
        /"msg":"listening"[^\n]*"address":"127\.0\.0\.1:(\d+)"|"address":"127\.0\.0\.1:(\d+)"[^\n]*"msg":"listening"/.exec(
          buf,
        );
      if (m) resolve(Number(m[1] ?? m[2]));
    });
  });
  child.stdout.resume();
  return { child, port };
}

async function main(): Promise<void> {
  const echo = await startEcho();
  const { child, port } = await startFaultgate(echo.port);
  let died = false;
  child.once('exit', () => (died = true));
  await (await fetch(`http://127.0.0.1:${port}/warm`)).text();
  echo.server.closeAllConnections();
  await sleep(300);
  const baseline = fds(child.pid!);
  const target = { connectAuthority: `127.0.0.1:${echo.port}`, headerOverflow: MAX_HEADER_BYTES };
  const started = Date.now();
  const results = [];
  // In batches, so progress shows and memory stays flat however many cases are asked for.
  for (let from = 0; from < CASES; from += 1000) {
    const batch = Array.from({ length: Math.min(1000, CASES - from) }, (_, i) =>
      fuzzCase(SEED, from + i, target),
    );
    results.push(...(await runCases(port, batch, CONCURRENCY, 8000)));
    console.log(
      `${results.length}/${CASES} cases, ${results.filter((r) => r.problem).length} problems, ${((Date.now() - started) / 1000).toFixed(0)} s`,
    );
  }
  const serving = died ? 0 : (await fetch(`http://127.0.0.1:${port}/after`)).status;
  echo.server.closeAllConnections();
  let leaked = Number.NaN;
  for (let i = 0; i < 80 && !died; i++) {
    leaked = fds(child.pid!) - baseline;
    if (leaked <= 0) break;
    await sleep(100);
  }
  const problems = results.filter((r) => r.problem);
  for (const p of problems.slice(0, 20))
    console.log(`seed ${SEED} case #${p.id} ${p.kind}: ${p.problem} (${p.outcome})`);
  const summary = summarise(results);
  for (const kind of FUZZ_KINDS) console.log(`${kind.padEnd(15)} ${JSON.stringify(summary[kind] ?? {})}`);
  const seconds = (Date.now() - started) / 1000;
  console.log(
    `${CASES} cases (seed ${SEED}) in ${seconds.toFixed(0)} s: ${problems.length} problems; process ${died ? 'DIED' : `alive, answering ${serving}`}; fds over baseline: ${leaked}`,
  );
  mkdirSync('.reliability', { recursive: true });
  writeFileSync(
    '.reliability/fuzz-long.json',
    `${JSON.stringify({ area: 'fuzz-long', seed: SEED, cases: CASES, seconds, problems: problems.length, died, leaked, summary, generated_at: new Date().toISOString() }, null, 2)}\n`,
  );
  child.kill('SIGTERM');
  await echo.close();
  process.exitCode = problems.length > 0 || died || serving !== 200 || leaked > 0 ? 1 : 0;
}

await main();
