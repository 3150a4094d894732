import { readdirSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { FUZZ_KINDS, fuzzCase } from '../../bench/fuzz-cases.js';
import { type CaseResult, runCases, startEcho, summarise } from '../../bench/fuzz-run.js';
import { waitFor } from '../helpers/index.js';
import { type MatrixRow, writeMatrix } from '../helpers/matrix.js';
import { spawnFaultgate } from '../helpers/process.js';

/** Open file descriptors of a process (sockets, timers' fds, pipes): the leak check. */
const fds = (pid: number) => readdirSync(`/proc/${pid}/fd`).length;

const SEED = 14;
const CASES = 240;
const MAX_HEADER_BYTES = 16_384;

function fuzzYaml(echoPort: number): string {
  return `version: 1
listeners:
  - name: main
    listen: 127.0.0.1:0
    upstream: http://127.0.0.1:${echoPort}
    forward: true
    allow_hosts: ["127.0.0.1"]
admin: { listen: 127.0.0.1:0 }
limits:
  max_header_bytes: ${MAX_HEADER_BYTES}
  headers_timeout_ms: 1000
  request_timeout_ms: 2000
  keep_alive_timeout_ms: 500
  client_idle_timeout_ms: 3000
log: { level: info }
`;
}

const results: CaseResult[] = [];

afterAll(() => {
  const summary = summarise(results);
  const rows: MatrixRow[] = FUZZ_KINDS.map((kind) => ({
    case: kind,
    required:
      'closed socket within 8 s; only coded 4xx (or 502 for CONNECT to a dead port) or the upstream answer',
    observed: Object.entries(summary[kind] ?? {})
      .sort((a, b) => b[1] - a[1])
      .map(([outcome, n]) => `${outcome} ×${n}`)
      .join(', '),
    ok: results.every((r) => r.kind !== kind || !r.problem),
  }));
  if (results.length > 0)
    writeMatrix('fuzz', 'HTTP fuzzing of a listener', rows, { seed: SEED, cases: results.length });
});

describe('HTTP fuzzing of a listener (seeded, raw sockets)', () => {
  it(`${CASES} hostile inputs each end in a coded answer or a closed socket; the process keeps serving and leaks no fds`, async () => {
    const echo = await startEcho();
    try {
      const fg = await spawnFaultgate(fuzzYaml(echo.port));
      const port = Number(new URL(fg.url).port);
      const pid = fg.child.pid!;
      const ok = await fetch(`${fg.url}/warm`);
      expect(ok.status).toBe(200);
      await ok.text();
      echo.server.closeAllConnections();
      await new Promise((r) => setTimeout(r, 200));
      const baseline = fds(pid);

      const target = { connectAuthority: `127.0.0.1:${echo.port}`, headerOverflow: MAX_HEADER_BYTES };
      const cases = Array.from({ length: CASES }, (_, id) => fuzzCase(SEED, id, target));
      results.push(...(await runCases(port, cases, 24, 8000)));
      const problems = results
        .filter((r) => r.problem)
        .map((r) => `#${r.id} ${r.kind}: ${r.problem} (${r.outcome})`);
      expect(problems).toEqual([]);

      expect(fg.child.exitCode).toBeNull();
      const after = await fetch(`${fg.url}/after`, { headers: { connection: 'close' } });
      expect(after.status).toBe(200);
      expect(await after.json()).toEqual({ path: '/after', method: 'GET' });
      // Upstream keep-alive sockets are the only fds a served request may leave: close them.
      echo.server.closeAllConnections();
      await waitFor(() => fds(pid) <= baseline, 8000, `fds back to ${baseline} (now ${fds(pid)})`);
    } finally {
      await echo.close();
    }
  });
});
