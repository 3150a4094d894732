import os from 'node:os';
import { Bench } from 'tinybench';
import { parseConfig } from '../src/config/load.js';
import type { Config } from '../src/config/schema.js';
import {
  IdentityResolver,
  mcpFromHeaders,
  NEEDS_BODY,
  normalizeAddress,
  type PeerFacts,
  proxyUserFrom,
  type RequestFacts,
  splitHost,
} from '../src/identity/index.js';
import { fmt, isMain, parseFlags, printTable } from './harness.js';
import { decisionCases } from './micro-chaos.js';

/**
 * Micro-benchmarks of hot functions (tinybench). Each case checks its own result before it is
 * timed, so a fast wrong answer never gets a number. Add a case by pushing to `cases` (or
 * writing another `...Cases()` builder); the runner and the table need no change.
 *
 *   npm run bench:micro [-- --time 1000 --only identity --markdown]
 */

export interface MicroCase {
  name: string;
  /** One operation, timed. */
  run: () => unknown;
  /** Throws when `run` does not do what the name claims; called once before timing. */
  check: () => void;
  /** Mean time per operation the issue asks for, in ns (shown as met/missed, never gating). */
  targetNs?: number;
  /** Operations per timed sample, for ops far below the timer's resolution; p99 is then of batch means. */
  batch?: number;
}

function assertEqual(actual: unknown, expected: unknown, what: string): void {
  if (actual !== expected) throw new Error(`${what}: expected ${String(expected)}, got ${String(actual)}`);
}

// ---------------------------------------------------------------------------------------------
// Identity: 1,000 tools (issue 2: resolution <= 2 us).

const TOOL_COUNT = 1000;
const AGENT_IPS = 50;

/** A realistic mix, in a fixed rotation so each kind is spread over the whole list. */
function toolConfig(i: number): { name: string; match: Record<string, unknown> } {
  const name = `tool-${i}`;
  switch (i % 10) {
    case 0:
    case 1:
    case 2:
    case 3:
      return { name, match: { host: `svc${i}.internal`, path: `/api/v${i % 4}/**` } };
    case 4:
      return { name, match: { host: `*.tenant${i}.example.com`, methods: ['POST'] } };
    case 5:
      return { name, match: { host: `api${i}.corp:8443`, path: '/v1/*/items', methods: ['GET', 'PUT'] } };
    case 6:
      // No host matcher: a candidate for every host, so these are checked on every request.
      return { name, match: { path: `/p${i}/**`, headers: { 'x-api-version': `v${i}*` } } };
    case 7:
      return { name, match: { host: `mcp${i}.internal`, path: '/mcp', mcp_tool: `tool_${i}` } };
    case 8:
      return { name, match: { host: `*.svc${i}.cluster.local`, headers: { 'x-route': `r${i}` } } };
    default:
      return { name, match: { host: `llm${i}.ai`, path: '/v1/chat/completions', methods: ['POST'] } };
  }
}

export function identityConfigText(): string {
  const client_ips = Object.fromEntries(
    Array.from({ length: AGENT_IPS }, (_, i) => [`10.0.0.${i}`, `agent-${i}`]),
  );
  return JSON.stringify({
    version: 1,
    listeners: [{ name: 'main', listen: '127.0.0.1:0', forward: true, allow_hosts: ['*.internal'] }],
    agents: { from: ['header:x-agent-id', 'proxy_user', 'client_ip'], client_ips },
    tenants: { from: ['header:x-tenant-id'], default: 'default' },
    tools: Array.from({ length: TOOL_COUNT }, (_, i) => toolConfig(i)),
    experiments: Array.from({ length: 20 }, (_, i) => ({
      name: `exp-${i}`,
      type: i % 2 ? 'latency' : 'error',
      target: { tools: [`tool-${i * 7}`] },
      config: i % 2 ? { min_ms: 10, max_ms: 50 } : { status: [500, 503] },
    })),
  });
}

function parsedConfig(text: string): Config {
  const result = parseConfig('bench.yaml', text, {});
  if (!result.ok) throw new Error(result.problems.map((p) => `${p.path} ${p.message}`).join('\n'));
  return result.config;
}

interface Incoming {
  facts: RequestFacts;
  proxyAuthorization?: string;
  remoteAddress: string;
  bodyReadable: boolean;
}

function incoming(
  method: string,
  host: string,
  path: string,
  headers: Record<string, string>,
  remoteAddress = '::ffff:10.0.0.99',
): Incoming {
  const { hostname, port } = splitHost(host);
  return {
    facts: { method, hostname, port, path, headers: { host, ...headers } },
    proxyAuthorization: headers['proxy-authorization'],
    remoteAddress,
    bodyReadable: method === 'POST',
  };
}

/** What the proxy does per request to name it: tool match, then agent and tenant. */
function resolve(
  identity: IdentityResolver,
  index: ReturnType<IdentityResolver['toolIndex']>,
  req: Incoming,
) {
  const match = index.match(req.facts, mcpFromHeaders(req.facts.headers), req.bodyReadable);
  const peer: PeerFacts = {
    headers: req.facts.headers,
    proxyUser: proxyUserFrom(req.proxyAuthorization),
    remoteAddress: normalizeAddress(req.remoteAddress),
  };
  const tool = match === NEEDS_BODY ? 'needs-body' : (match?.name ?? 'unmatched');
  return { tool, agent: identity.agent(peer), tenant: identity.tenant(peer) };
}

export function identityCases(): MicroCase[] {
  const identity = new IdentityResolver(parsedConfig(identityConfigText()));
  const index = identity.toolIndex();
  const basic = `Basic ${Buffer.from('planner:').toString('base64')}`;
  const requests: [string, Incoming, { tool: string; agent: string; tenant: string }][] = [
    [
      'last tool (host-indexed), agent from proxy_user',
      incoming('POST', 'llm999.ai', '/v1/chat/completions', {
        'proxy-authorization': basic,
        'content-type': 'application/json',
      }),
      { tool: 'tool-999', agent: 'planner', tenant: 'default' },
    ],
    [
      'last tool without a host matcher (path-only, 1 of 100)',
      incoming('GET', 'anything.test', '/p996/x/y', { 'x-api-version': 'v996.2', 'x-tenant-id': 'acme' }),
      { tool: 'tool-996', agent: '10.0.0.99', tenant: 'acme' },
    ],
    [
      'early tool, agent from header',
      incoming('GET', 'svc0.internal', '/api/v0/users', { 'x-agent-id': 'coder', 'x-tenant-id': 'acme' }),
      { tool: 'tool-0', agent: 'coder', tenant: 'acme' },
    ],
    [
      'MCP tool by Mcp-Name header',
      incoming('POST', 'mcp997.internal', '/mcp', { 'mcp-name': 'tool_997' }, '::ffff:10.0.0.7'),
      { tool: 'tool-997', agent: 'agent-7', tenant: 'default' },
    ],
    [
      'unmatched, agent from client_ips',
      incoming('GET', 'nowhere.test', '/x', {}, '::ffff:10.0.0.7'),
      { tool: 'unmatched', agent: 'agent-7', tenant: 'default' },
    ],
  ];
  const cases: MicroCase[] = requests.map(([name, req, want]) => ({
    name: `identity: ${name}`,
    targetNs: 2000,
    run: () => resolve(identity, index, req),
    check: () => {
      const got = resolve(identity, index, req);
      assertEqual(got.tool, want.tool, `${name}: tool`);
      assertEqual(got.agent, want.agent, `${name}: agent`);
      assertEqual(got.tenant, want.tenant, `${name}: tenant`);
    },
  }));
  // Informational: a host the per-host cache has not seen yet (every tool's host matcher runs).
  let n = 0;
  const coldIndex = identity.toolIndex();
  cases.push({
    name: 'identity: unseen host (cache miss, 1,000 host checks)',
    run: () => coldIndex.match(incoming('GET', `h${n++}.cold.test`, '/x', {}).facts, null, false),
    check: () => {
      const match = coldIndex.match(incoming('GET', 'svc1.internal', '/api/v1/a', {}).facts, null, false);
      assertEqual(match === NEEDS_BODY ? match : match?.name, 'tool-1', 'unseen host: tool');
    },
  });
  return cases;
}

/**
 * 1,000 path-only tools under one first segment: the path index finds the last tool at once
 * through literal and whole-segment `*` segments, and after a `**` by a literal last segment;
 * a `**` followed only by wildcards leaves every tool a candidate (the index's worst case).
 */
export function sharedPrefixCases(): MicroCase[] {
  const build = (path: (i: number) => string) =>
    new IdentityResolver(
      parsedConfig(
        JSON.stringify({
          version: 1,
          listeners: [{ name: 'main', listen: '127.0.0.1:0' }],
          tools: Array.from({ length: TOOL_COUNT }, (_, i) => ({
            name: `tool-${i}`,
            match: { path: path(i) },
          })),
        }),
      ),
    ).toolIndex();
  const variants: [string, ReturnType<typeof build>, string, number | undefined][] = [
    ['1,000 path-only tools /v1/tN/**, last one', build((i) => `/v1/t${i}/**`), '/v1/t999/x', 2000],
    ['1,000 path-only tools /v1/*/tN, last one', build((i) => `/v1/*/t${i}`), '/v1/x/t999', 2000],
    // A `**` followed by a literal last segment is keyed by that segment (issue 14).
    ['1,000 path-only tools /v1/**/tN, last one', build((i) => `/v1/**/t${i}`), '/v1/x/t999', 2000],
    [
      '1,000 path-only tools /v1/**/tN-*, last one (worst case: nothing after ** to index)',
      build((i) => `/v1/**/t${i}-*`),
      '/v1/x/t999-a',
      undefined,
    ],
  ];
  return variants.map(([name, index, path, targetNs]) => {
    const req = incoming('GET', 'api.test', path, {});
    const run = () => index.match(req.facts, null, false);
    return {
      name: `identity: ${name}`,
      targetNs,
      run,
      check: () => {
        const match = run();
        assertEqual(match === NEEDS_BODY ? match : match?.name, 'tool-999', `${name}: tool`);
      },
    };
  });
}

// ---------------------------------------------------------------------------------------------
// Config: parse + validate + compile of the same 1,000-tool file (informational).

export function configCases(): MicroCase[] {
  const text = identityConfigText();
  const compile = () => new IdentityResolver(parsedConfig(text)).toolIndex();
  return [
    {
      name: 'config: parse + validate + compile (1,000 tools, 20 experiments)',
      run: compile,
      check: () => assertEqual(parsedConfig(text).tools.length, TOOL_COUNT, 'tool count'),
    },
  ];
}

export const cases: MicroCase[] = [
  ...identityCases(),
  ...sharedPrefixCases(),
  ...configCases(),
  ...decisionCases(),
];

// ---------------------------------------------------------------------------------------------

interface Row {
  name: string;
  meanNs: number;
  p99Ns: number;
  opsPerS: number;
  samples: number;
  targetNs?: number;
}

async function measure(c: MicroCase, time: number): Promise<Row> {
  c.check();
  const batch = c.batch ?? 1;
  const bench = new Bench({ time, warmupTime: Math.min(200, time), subtractTimerOverhead: batch === 1 });
  if (batch === 1) bench.add(c.name, c.run);
  else
    bench.add(c.name, () => {
      const start = bench.now();
      for (let i = 0; i < batch; i++) c.run();
      const elapsed = bench.now() - start;
      return { overriddenDuration: elapsed / batch, overriddenIterationCost: elapsed };
    });
  await bench.run();
  const result = bench.tasks[0]!.result;
  if (!('latency' in result)) throw new Error(`${c.name}: ${result.state}`);
  return {
    name: c.name,
    meanNs: result.latency.mean * 1e6,
    p99Ns: result.latency.p99 * 1e6,
    opsPerS: 1e3 / result.latency.mean,
    samples: result.latency.samplesCount,
    targetNs: c.targetNs,
  };
}

function time(ns: number): string {
  return ns >= 1e6 ? `${fmt(ns / 1e6)} ms` : ns >= 1e4 ? `${fmt(ns / 1e3, 1)} us` : `${fmt(ns, 0)} ns`;
}

async function main(): Promise<void> {
  const flags = parseFlags({ time: '1000', only: '', markdown: 'false' });
  if (flags.help) {
    console.log('usage: node dist/bench/micro.js [--time MS_PER_CASE] [--only SUBSTRING] [--markdown]');
    return;
  }
  const selected = cases.filter((c) => c.name.includes(flags.only));
  const rows: Row[] = [];
  for (const c of selected) rows.push(await measure(c, Number(flags.time)));
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  console.log(
    `faultgate micro  ${new Date().toISOString().slice(0, 10)}  ${os.cpus().length} x ${cpu}, node ${process.version}`,
  );
  printTable(
    ['case', 'mean/op', 'p99', 'ops/s', 'samples', 'target'],
    rows.map((r) => [
      r.name,
      time(r.meanNs),
      time(r.p99Ns),
      fmt(r.opsPerS, 0),
      String(r.samples),
      r.targetNs === undefined
        ? '-'
        : `${r.meanNs <= r.targetNs ? 'met' : 'MISSED'} (<= ${time(r.targetNs)})`,
    ]),
    flags.markdown === 'true',
  );
}

if (isMain(import.meta.url)) {
  main().catch((err: Error) => {
    console.error(err.message);
    process.exit(1);
  });
}
