import { hostname } from 'node:os';
import { z } from 'zod';
import { dialectSchema, nonNegInt, posInt, probability } from '../faults/kit/common.js';
import {
  type FaultConfig,
  type FaultType,
  faultAliases,
  faultSchema,
  faultTypes,
  isFaultType,
} from '../faults/registry.js';

/** `host:port`, `[v6]:port`; port 0 asks the OS for a free port. */
const listenAddress = z.string().refine((s) => {
  const m = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(s);
  return m !== null && Number(m[2]) <= 65535;
}, 'must be HOST:PORT with a port 0..65535 (e.g. 127.0.0.1:8080, [::1]:8080)');

const httpUrl = z
  .string()
  .refine(
    (s) => URL.canParse(s) && /^https?:$/.test(new URL(s).protocol),
    'must be an http:// or https:// URL',
  );

const globList = z.array(z.string().min(1)).default(['*']);

const identitySource = z
  .string()
  .regex(
    /^(header:[!#$%&'*+.^_`|~0-9A-Za-z-]+|proxy_user|client_ip)$/,
    'must be header:NAME, proxy_user or client_ip',
  );

const listenerSchema = z.strictObject({
  name: z.string().min(1),
  listen: listenAddress,
  upstream: httpUrl.optional(),
  forward: z.boolean().default(false),
  tls: z.enum(['tunnel', 'intercept']).default('tunnel'),
  allow_hosts: z.array(z.string().min(1)).default([]),
  /** With `tls: intercept`: CONNECT targets left as opaque tunnels (host patterns as allow_hosts). */
  tls_passthrough: z.array(z.string().min(1)).default([]),
});

const matchSchema = z.strictObject({
  host: z.string().min(1).optional(),
  path: z.string().startsWith('/', 'a path glob starts with /').optional(),
  methods: z
    .array(z.string().regex(/^[A-Za-z]+$/, 'an HTTP method'))
    .min(1)
    .optional(),
  headers: z.record(z.string().min(1), z.string()).optional(),
  mcp_tool: z.string().min(1).optional(),
  mcp_method: z.string().min(1).optional(),
});

const toolSchema = z.strictObject({
  name: z
    .string()
    .min(1)
    .refine((n) => n !== 'unmatched' && n !== 'other', 'the names "unmatched" and "other" are reserved'),
  match: matchSchema.prefault({}),
  upstream: httpUrl.optional(),
  format: dialectSchema.default('json'),
  fallback_for: z.array(z.string().min(1)).default([]),
});

const targetSchema = z.strictObject({
  tools: globList,
  agents: globList,
  tenants: globList,
  percentage: probability.default(1),
});

const scheduleSchema = z.strictObject({
  after_s: z.number().min(0).default(0),
  duration_s: z.number().positive().optional(),
});

const experimentInput = z.strictObject({
  // Names travel in the x-faultgate-injected header and metric labels: plain ASCII tokens.
  name: z.string().regex(/^[A-Za-z0-9._~:@/+-]+$/, 'letters, digits and ._~:@/+- only'),
  type: z.string().min(1),
  probability: probability.optional(),
  target: targetSchema.prefault({}),
  config: z.record(z.string(), z.unknown()).default({}),
  schedule: scheduleSchema.optional(),
});

/** A validated experiment: `type` is canonical (aliases resolved), `config` parsed by the type's schema. */
export type Experiment = {
  [K in FaultType]: Omit<z.output<typeof experimentInput>, 'type' | 'config'> & {
    type: K;
    config: FaultConfig<K>;
    /** The name the user wrote when it was an alias (e.g. `tool_unavailable`). */
    alias?: string;
  };
}[FaultType];

function resolveType(name: string): FaultType | undefined {
  const alias = faultAliases[name];
  const type = alias ? alias.type : name;
  return isFaultType(type) ? type : undefined;
}

/** Validates `type` and `config`; runs even when other keys of the experiment are wrong. */
function checkTypeAndConfig(
  exp: { type: string; config?: unknown },
  ctx: z.core.$RefinementCtx<unknown>,
): void {
  const type = resolveType(exp.type);
  if (!type) {
    ctx.addIssue({
      code: 'custom',
      input: exp.type,
      path: ['type'],
      message: `unknown fault type "${exp.type}"; known: ${[...faultTypes, ...Object.keys(faultAliases)].join(', ')}`,
    });
    return;
  }
  const config = exp.config ?? {};
  if (typeof config !== 'object' || config === null || Array.isArray(config)) return; // reported by the object schema
  const parsed = faultSchema(type).safeParse({ ...faultAliases[exp.type]?.defaults, ...config });
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      ctx.addIssue({ ...issue, path: ['config', ...issue.path] } as z.core.$ZodRawIssue);
    }
  }
}

/** Resolves aliases and parses `config` with the fault type's own schema. */
export const experimentSchema = experimentInput
  .superRefine((exp, ctx) => checkTypeAndConfig(exp, ctx), {
    when: (payload) => typeof (payload.value as { type?: unknown } | null)?.type === 'string',
  })
  .transform((exp): Experiment => {
    const alias = faultAliases[exp.type];
    const type = resolveType(exp.type);
    // An invalid type or config was already reported by the refinement above.
    const parsed = type ? faultSchema(type).safeParse({ ...alias?.defaults, ...exp.config }) : undefined;
    if (!type || !parsed?.success) return z.NEVER;
    return { ...exp, type, config: parsed.data, ...(alias ? { alias: exp.type } : {}) } as Experiment;
  });

const safetySchema = z.strictObject({
  max_affected_requests: nonNegInt.default(1000),
  cascade_threshold: nonNegInt.default(20),
  auto_abort_on_cascade: z.boolean().default(true),
  max_blast_radius: z
    .enum(['single_request', 'single_agent', 'single_trace', 'single_tenant', 'multi_tenant'])
    .default('multi_tenant'),
  max_active_faults: nonNegInt.default(100),
});

/** SPEC section 10: several instances share one chaos control plane through Redis. */
const fleetSchema = z.strictObject({
  redis: z
    .string()
    .regex(/^rediss?:\/\/[^\s]+$/, 'must be a redis:// or rediss:// URL')
    .refine((u) => URL.canParse(u), 'is not a valid URL'),
  /** Key prefix: several fleets can share one Redis. */
  name: z
    .string()
    .regex(/^[A-Za-z0-9_.-]{1,64}$/, 'must be 1-64 letters, digits, "_", "." or "-"')
    .default('default'),
  instance: z.string().min(1).max(253).default(hostname()),
  /** The config's `default` session is one session of the fleet (docs/fleet.md). */
  share_default: z.boolean().default(false),
  suspend_after_ms: posInt.default(5000),
  /** The versioned full resync: a lost pub/sub message or a restarted instance converges. */
  resync_ms: z.number().int().min(100).max(3_600_000).default(2000),
  /** Finished exchanges buffered for the outcome stream while Redis is slow or down. */
  outcome_buffer: z.number().int().min(1).max(1_000_000).default(10_000),
});

const configInput = z.strictObject({
  version: z.literal(1),
  listeners: z.array(listenerSchema).min(1),
  admin: z
    .strictObject({
      listen: listenAddress.default('127.0.0.1:9090'),
      token: z.string().default(''),
    })
    .prefault({}),
  ca: z.strictObject({ dir: z.string().min(1).default('./.faultgate/ca') }).prefault({}),
  upstream: z
    .strictObject({
      ca_file: z.string().min(1).optional(),
      reject_unauthorized: z.boolean().default(true),
      connect_timeout_ms: posInt.default(10_000),
      response_timeout_ms: posInt.default(300_000),
      max_connections_per_origin: nonNegInt.default(0),
    })
    .prefault({}),
  limits: z
    .strictObject({
      max_header_bytes: z.int().min(1024).default(32_768),
      max_body_bytes: posInt.default(10 * 1024 * 1024),
      max_label_values: posInt.default(200),
      /** How much of a JSON-RPC body is read to find an MCP tool name (an addition to the SPEC). */
      mcp_peek_bytes: posInt.default(1024 * 1024),
      /** Server-side protections against slow clients (additions to the SPEC). */
      headers_timeout_ms: posInt.default(30_000),
      request_timeout_ms: nonNegInt.default(300_000),
      client_idle_timeout_ms: nonNegInt.default(300_000),
      keep_alive_timeout_ms: posInt.default(5_000),
      /** Overload protection (issue 14): 0 = no cap. */
      max_connections: nonNegInt.default(0),
      max_inflight: nonNegInt.default(0),
    })
    .prefault({}),
  /** SPEC section 6: the grain of the histograms and recovery gauges (counters stay per (agent, tool)). */
  metrics: z.strictObject({ detail: z.enum(['full', 'tool', 'agent']).default('tool') }).prefault({}),
  chaos: z
    .strictObject({
      level: z.number().min(0).max(10).default(1),
      seed: z.int().optional(),
      /** true: obeys abort and level; force: even after an abort or at level 0 (test use). */
      header_overrides: z.union([z.boolean(), z.literal('force')]).default(false),
      mark_injected: z.boolean().default(true),
    })
    .prefault({}),
  agents: z
    .strictObject({
      from: z.array(identitySource).default(['header:x-agent-id', 'proxy_user', 'client_ip']),
      client_ips: z.record(z.string(), z.string().min(1)).default({}),
      default: z.string().min(1).default('unknown'),
    })
    .prefault({}),
  tenants: z
    .strictObject({
      from: z.array(identitySource).default(['header:x-tenant-id']),
      client_ips: z.record(z.string(), z.string().min(1)).default({}),
      default: z.string().min(1).default('default'),
    })
    .prefault({}),
  /** What identifies one agent run, for `max_blast_radius: single_trace` and the logs. */
  trace: z
    .strictObject({
      from: z
        .array(z.string().regex(/^header:[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, 'must be header:NAME'))
        .default(['header:traceparent']),
    })
    .prefault({}),
  tools: z.array(toolSchema).default([]),
  experiments: z.array(experimentSchema).default([]),
  safety: safetySchema.prefault({}),
  slos: z
    .strictObject({
      availability: z.number().gt(0.5).lt(1).default(0.99),
      latency_p99_ms: z.number().positive().default(2000),
      mttr_s: z.number().positive().default(30),
      recovery_window_s: z.number().positive().default(60),
    })
    .prefault({}),
  /** Recovery tracking (SPEC section 5); an addition to the SPEC so its cost can be measured. */
  tracking: z.strictObject({ enabled: z.boolean().default(true) }).prefault({}),
  fleet: fleetSchema.optional(),
  log: z
    .strictObject({
      level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
    })
    .prefault({}),
});

type Loose = Record<string, unknown>;
const isLoose = (v: unknown): v is Loose => typeof v === 'object' && v !== null && !Array.isArray(v);
/** The entries of a list that may not have parsed: anything but an object reads as `{}`. */
const entries = (list: unknown): Loose[] =>
  Array.isArray(list) ? list.map((x) => (isLoose(x) ? x : {})) : [];
const strings = (list: unknown): (string | undefined)[] =>
  Array.isArray(list) ? list.map((x) => (typeof x === 'string' ? x : undefined)) : [];

/** Every repeated name with the index of the entry that repeats it. */
function duplicates(names: readonly unknown[]): [string, number][] {
  const seen = new Set<string>();
  const dups: [string, number][] = [];
  names.forEach((n, i) => {
    if (typeof n !== 'string') return;
    if (seen.has(n)) dups.push([n, i]);
    else seen.add(n);
  });
  return dups;
}

const isGlob = (s: string): boolean => s.includes('*');

/**
 * Cross-field rules: unique names, references to tools that exist. They run even when other
 * parts of the config failed, so a user sees every problem at once; the input may then be
 * partly invalid, hence the defensive reading.
 */
function crossCheck(cfg: Loose, ctx: z.RefinementCtx): void {
  const lists = [
    ['listeners', 'listener'],
    ['tools', 'tool'],
    ['experiments', 'experiment'],
  ] as const;
  for (const [key, what] of lists) {
    for (const [name, i] of duplicates(entries(cfg[key]).map((e) => e.name))) {
      ctx.addIssue({ code: 'custom', path: [key, i, 'name'], message: `duplicate ${what} name "${name}"` });
    }
  }
  // Without a tool list that parsed, every reference would look unknown: say nothing.
  if (!Array.isArray(cfg.tools)) return;
  const tools = entries(cfg.tools);
  const toolNames = new Set(tools.map((t) => t.name));
  tools.forEach((tool, i) => {
    strings(tool.fallback_for).forEach((ref, j) => {
      if (ref === undefined || (toolNames.has(ref) && ref !== tool.name)) return;
      ctx.addIssue({
        code: 'custom',
        path: ['tools', i, 'fallback_for', j],
        message: ref === tool.name ? 'a tool cannot be its own fallback' : `unknown tool "${ref}"`,
      });
    });
  });
  entries(cfg.experiments).forEach((exp, i) => {
    strings(isLoose(exp.target) ? exp.target.tools : undefined).forEach((ref, j) => {
      if (ref === undefined || isGlob(ref) || ref === 'unmatched' || toolNames.has(ref)) return;
      ctx.addIssue({
        code: 'custom',
        path: ['experiments', i, 'target', 'tools', j],
        message: `unknown tool "${ref}"`,
      });
    });
  });
}

export const configSchema = configInput.superRefine((cfg, ctx) => crossCheck(cfg, ctx), {
  when: (payload) => isLoose(payload.value),
});

export type Config = z.output<typeof configSchema>;
export type ListenerConfig = Config['listeners'][number];
export type ToolConfig = Config['tools'][number];
export type ToolMatch = ToolConfig['match'];
export type FleetConfig = NonNullable<Config['fleet']>;
