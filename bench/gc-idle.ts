import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Pool } from 'undici';
import { benchConfigYaml } from './faultgate-config.js';
import {
  fmt,
  freePort,
  isMain,
  machineLine,
  parseFlags,
  printTable,
  startChild,
  stopAll,
} from './harness.js';
import { FAULTGATE_CLI, startUpstreamProcess } from './targets.js';

/**
 * The large-body slow state (issue 13): a faultgate that sat idle for a minute did half the
 * 256 KiB throughput of a fresh one, with ~124 major GCs per 8 s run. Counts GCs (`--trace-gc`)
 * while the same number of 256 KiB responses go through a fresh process, then again after an
 * idle pause, for each set of V8 flags. GC counts per request do not depend on the machine's
 * load, so the variants may run side by side; the GC pause times are indicative only.
 *
 *   npm run build && node dist/bench/gc-idle.js [--requests 1000] [--idle-s 65]
 *     [--variants "none;--max-semi-space-size=64"]
 */

interface Phase {
  scavenges: number;
  majors: number;
  pauseMs: number;
  /** Why the major GCs ran (V8's reason at the end of the trace line), with counts. */
  reasons: Map<string, number>;
}

const emptyPhase = (): Phase => ({ scavenges: 0, majors: 0, pauseMs: 0, reasons: new Map() });

const GC_LINE = /(Scavenge|Mark-Compact|Mark-sweep|Minor Mark-Compact)[^,]*MB, ([\d.]+) \/ ([\d.]+) ms/;

function counter(): { phase: Phase; line(text: string): void; reset(): Phase } {
  let phase = emptyPhase();
  return {
    get phase() {
      return phase;
    },
    line(text) {
      const m = GC_LINE.exec(text);
      if (!m) return;
      if (m[1] === 'Scavenge' || m[1] === 'Minor Mark-Compact') phase.scavenges++;
      else {
        phase.majors++;
        const reason = /ms: .*?\) ([^;]*?);?\s*$/.exec(text)?.[1]?.trim() ?? text.slice(-40);
        phase.reasons.set(reason, (phase.reasons.get(reason) ?? 0) + 1);
      }
      phase.pauseMs += Number(m[2]);
    },
    reset() {
      const done = phase;
      phase = emptyPhase();
      return done;
    },
  };
}

async function load(url: string, requests: number, connections: number): Promise<void> {
  const pool = new Pool(url, { connections });
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < requests) {
      next++;
      const res = await pool.request({ path: '/bytes/256k', method: 'GET' });
      // A finite limit: dump() reads Infinity as its 128 KiB default and then closes the
      // connection, so every 256 KiB response was cut and every request opened a connection.
      await res.body.dump({ limit: 2 ** 40 });
      if (res.statusCode !== 200) throw new Error(`status ${res.statusCode}`);
    }
  };
  await Promise.all(Array.from({ length: connections }, worker));
  await pool.close();
}

async function variant(flags: string[], upstream: string, requests: number, idleS: number): Promise<Phase[]> {
  const [port, adminPort] = [await freePort(), await freePort()];
  const dir = mkdtempSync(join(tmpdir(), 'faultgate-gc-'));
  const file = join(dir, 'faultgate.yaml');
  writeFileSync(file, benchConfigYaml({ listenPort: port, adminPort, upstream, logLevel: 'info' }));
  const { child } = await startChild(
    'faultgate',
    process.execPath,
    [...flags, '--trace-gc', FAULTGATE_CLI, 'start', '-c', file],
    {
      ready: /"msg":"listening"/,
    },
  );
  const gc = counter();
  child.proc.stdout!.on('data', (d: string) => {
    for (const l of d.split('\n')) gc.line(l);
  });
  try {
    const url = `http://127.0.0.1:${port}`;
    for (let i = 0; i < 100; i++) {
      try {
        await load(url, 1, 1);
        break;
      } catch {
        await sleep(100);
      }
    }
    gc.reset();
    await load(url, requests, 10);
    const fresh = gc.reset();
    await sleep(idleS * 1000);
    const idle = gc.reset();
    await load(url, requests, 10);
    return [fresh, idle, gc.reset()];
  } finally {
    await child.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const flags = parseFlags({
    requests: '1000',
    'idle-s': '65',
    variants: 'none;--max-semi-space-size=32;--max-semi-space-size=64',
    markdown: '',
  });
  if (flags.help) {
    console.log(
      'node dist/bench/gc-idle.js [--requests 1000] [--idle-s 65] [--variants "none;--max-semi-space-size=64"]',
    );
    return;
  }
  const requests = Number(flags.requests);
  const variants = flags.variants.split(';').map((v) => (v === 'none' ? [] : v.split(' ').filter(Boolean)));
  console.log(machineLine(`${requests} x 256 KiB per phase, ${flags['idle-s']} s idle`));
  const upstream = await startUpstreamProcess();
  try {
    const results = await Promise.all(
      variants.map((v) => variant(v, upstream.url, requests, Number(flags['idle-s']))),
    );
    const rows = results.map((phases, i) => {
      const [fresh, idle, after] = phases as [Phase, Phase, Phase];
      return [
        variants[i]!.join(' ') || '(defaults)',
        `${fresh.scavenges} / ${fresh.majors}`,
        `${idle.scavenges} / ${idle.majors}`,
        `${after.scavenges} / ${after.majors}`,
        fmt((after.pauseMs * 1000) / requests, 1),
        fmt((fresh.pauseMs * 1000) / requests, 1),
      ];
    });
    results.forEach((phases, i) => {
      const reasons = phases.map((p) => [...p.reasons].map(([r, n]) => `${n}x ${r}`).join(', ') || '-');
      console.log(
        `${variants[i]!.join(' ') || '(defaults)'}: majors fresh: ${reasons[0]}; idle: ${reasons[1]}; after idle: ${reasons[2]}`,
      );
    });
    printTable(
      [
        'node flags',
        'fresh scav / major',
        'idle scav / major',
        'after idle scav / major',
        'GC µs/req after idle',
        'GC µs/req fresh',
      ],
      rows,
      flags.markdown !== '',
    );
  } finally {
    await upstream.child.stop();
    await stopAll();
  }
}

if (isMain(import.meta.url)) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
}
