/**
 * The body of `POST /api/v1/chaos/sessions`, in either of the two shapes users send:
 *
 * - SPEC section 7: `{name, experiments[], targeting{...}, safety{...}, duration_s}`, strict,
 *   every experiment in the section 2 shape (validated by the config's own `experimentSchema`).
 * - Pisama-style: one experiment at the top level, `{type, config, probability, name?, agent_ids?,
 *   tool_names?, tenant_ids?, percentage? (or under targeting), safety?, duration_s?}`, with
 *   upper-case enum values and safety keys as Pisama writes them (`SINGLE_TENANT`).
 *
 * Every problem is returned at once with its path; nothing throws.
 */
import { z } from 'zod';
import { type Experiment, experimentSchema } from '../config/schema.js';
import { formatPath, unionLiterals } from '../config/load.js';
import { nonNegInt } from '../faults/kit/common.js';
import { faultAliases, isFaultType } from '../faults/registry.js';
import type {
  BlastRadius,
  BodyProblem,
  ParseSessionBody,
  SessionInput,
  SessionSafety,
  SessionTargeting,
} from './control.js';

type Loose = Record<string, unknown>;
const isLoose = (v: unknown): v is Loose => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Targeting lists name agents, tools and tenants exactly; `*`, an empty list or none means everyone. */
const idList = z.array(z.string().min(1));
const fraction = 'a fraction 0..1 (50% is 0.5)';
const percentage = z.number().min(0, fraction).max(1, fraction);
const targetingKeys = ['agent_ids', 'tool_names', 'tenant_ids', 'percentage'] as const;
const targetingSchema = z.strictObject({
  agent_ids: idList.optional(),
  tool_names: idList.optional(),
  tenant_ids: idList.optional(),
  percentage: percentage.optional(),
});
type TargetingInput = z.output<typeof targetingSchema>;
/** The config's spelling of the same targeting (an experiment's `target`): same lists, same errors. */
const targetSchema = z.strictObject({
  tools: idList.optional(),
  agents: idList.optional(),
  tenants: idList.optional(),
  percentage: percentage.optional(),
});

const blastRadii = [
  'single_request',
  'single_agent',
  'single_trace',
  'single_tenant',
  'multi_tenant',
] as const;
const safetySchema = z.strictObject({
  max_affected_requests: nonNegInt.optional(),
  cascade_threshold: nonNegInt.optional(),
  auto_abort_on_cascade: z.boolean().optional(),
  max_blast_radius: z.enum(blastRadii).optional(),
  max_active_faults: nonNegInt.optional(),
});

const durationSchema = z.number().positive().nullable().optional();

const specShape = z.strictObject({
  name: z.string().min(1),
  experiments: z.array(z.unknown()).min(1, 'a session needs at least one experiment'),
  targeting: z.unknown().optional(),
  target: z.unknown().optional(),
  safety: z.unknown().optional(),
  duration_s: durationSchema,
});

const pisamaShape = z.strictObject({
  // type, config and probability are the experiment's: experimentSchema reports on them.
  type: z.unknown(),
  config: z.unknown().optional(),
  probability: z.unknown().optional(),
  name: z.string().min(1).optional(),
  agent_ids: z.unknown().optional(),
  tool_names: z.unknown().optional(),
  tenant_ids: z.unknown().optional(),
  percentage: z.unknown().optional(),
  targeting: z.unknown().optional(),
  target: z.unknown().optional(),
  safety: z.unknown().optional(),
  duration_s: durationSchema,
});

/** zod issues as problems, paths prefixed; `rename` maps a normalised key back to the one written. */
function toProblems(
  issues: readonly z.core.$ZodIssue[],
  prefix: readonly PropertyKey[],
  rename: (key: PropertyKey) => PropertyKey = (k) => k,
): BodyProblem[] {
  return issues.flatMap((issue): BodyProblem[] => {
    const path = [...prefix, ...issue.path.map((k, i) => (i === 0 ? rename(k) : k))];
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((k) => ({ path: formatPath([...path, rename(k)]), message: 'unknown key' }));
    }
    if (issue.code === 'invalid_union') {
      const literals = unionLiterals(issue.errors);
      if (literals) return [{ path: formatPath(path), message: `expected one of ${literals}` }];
      // The branch that accepted the value's type says what is wrong inside it.
      const typed = issue.errors.find(
        (b) => !b.some((s) => s.code === 'invalid_type' && s.path.length === 0),
      );
      if (typed && typed.length > 0) return toProblems(typed, path);
    }
    return [{ path: formatPath(path), message: issue.message }];
  });
}

/** Experiments as section 2 writes them; `at` is where the experiment sits in the body. */
function parseExperiment(
  raw: unknown,
  at: readonly PropertyKey[],
  problems: BodyProblem[],
): Experiment | undefined {
  const parsed = experimentSchema.safeParse(raw);
  if (parsed.success) return parsed.data;
  problems.push(...toProblems(parsed.error.issues, at));
  return undefined;
}

function lowerEnum(value: unknown): unknown {
  return typeof value === 'string' ? value.toLowerCase() : value;
}

/**
 * Safety keys in any case (`MAX_BLAST_RADIUS`), the blast radius in any case; absent keys take
 * the config's values. Problems name the key as it was written.
 */
function parseSafety(raw: unknown, defaults: SessionSafety, problems: BodyProblem[]): SessionSafety {
  if (raw === undefined || raw === null) return { ...defaults };
  if (!isLoose(raw)) {
    problems.push({ path: 'safety', message: 'expected an object' });
    return { ...defaults };
  }
  const normalised: Loose = {};
  const written = new Map<string, string>();
  for (const [key, value] of Object.entries(raw)) {
    const lower = key.toLowerCase();
    const v = lower === 'max_blast_radius' ? lowerEnum(value) : value;
    const previous = written.get(lower);
    if (previous !== undefined && JSON.stringify(normalised[lower]) !== JSON.stringify(v)) {
      problems.push({ path: `safety.${key}`, message: `conflicts with safety.${previous}` });
      continue;
    }
    written.set(lower, previous ?? key);
    normalised[lower] = v;
  }
  const parsed = safetySchema.safeParse(normalised);
  if (!parsed.success) {
    const rename = (k: PropertyKey) => (typeof k === 'string' ? (written.get(k) ?? k) : k);
    problems.push(...toProblems(parsed.error.issues, ['safety'], rename));
    return { ...defaults };
  }
  const s = parsed.data;
  return {
    max_affected_requests: s.max_affected_requests ?? defaults.max_affected_requests,
    cascade_threshold: s.cascade_threshold ?? defaults.cascade_threshold,
    auto_abort_on_cascade: s.auto_abort_on_cascade ?? defaults.auto_abort_on_cascade,
    max_blast_radius: (s.max_blast_radius ?? defaults.max_blast_radius) as BlastRadius,
    max_active_faults: s.max_active_faults ?? defaults.max_active_faults,
  };
}

function parseTargeting(raw: unknown, problems: BodyProblem[]): TargetingInput {
  if (raw === undefined || raw === null) return {};
  const parsed = targetingSchema.safeParse(raw);
  if (parsed.success) return parsed.data;
  problems.push(...toProblems(parsed.error.issues, ['targeting']));
  return {};
}

/**
 * `target{tools, agents, tenants, percentage}` (the config's spelling), when the body uses it:
 * undefined when it does not. Given together with `targeting` (or Pisama's top-level keys) it is
 * a problem: which one wins would be a guess.
 */
function configTarget(body: Loose, problems: BodyProblem[]): TargetingInput | undefined {
  if (body.target === undefined) return undefined;
  const other = ['targeting', ...targetingKeys].find((k) => body[k] !== undefined);
  if (other) problems.push({ path: 'target', message: `give target or ${other}, not both` });
  const parsed = targetSchema.safeParse(body.target ?? {});
  if (!parsed.success) {
    problems.push(...toProblems(parsed.error.issues, ['target']));
    return {};
  }
  const t = parsed.data;
  return {
    ...(t.agents ? { agent_ids: t.agents } : {}),
    ...(t.tools ? { tool_names: t.tools } : {}),
    ...(t.tenants ? { tenant_ids: t.tenants } : {}),
    ...(t.percentage !== undefined ? { percentage: t.percentage } : {}),
  };
}

const everyone = (list: string[] | undefined): string[] => (list && list.length > 0 ? list : ['*']);

function finishTargeting(t: TargetingInput): SessionTargeting {
  return {
    agent_ids: everyone(t.agent_ids),
    tool_names: everyone(t.tool_names),
    tenant_ids: everyone(t.tenant_ids),
    percentage: t.percentage ?? 1,
  };
}

function duplicateNames(experiments: readonly unknown[], problems: BodyProblem[]): void {
  const seen = new Set<string>();
  experiments.forEach((exp, i) => {
    const name = isLoose(exp) ? exp.name : undefined;
    if (typeof name !== 'string') return;
    if (seen.has(name))
      problems.push({ path: `experiments[${i}].name`, message: `duplicate experiment name "${name}"` });
    seen.add(name);
  });
}

function parseSpec(body: Loose, defaults: SessionSafety, problems: BodyProblem[]): SessionInput | undefined {
  const shape = specShape.safeParse(body);
  if (!shape.success) problems.push(...toProblems(shape.error.issues, []));
  const list = Array.isArray(body.experiments) ? body.experiments : [];
  const experiments = list.map((exp, i) => parseExperiment(exp, ['experiments', i], problems));
  duplicateNames(list, problems);
  const targeting = finishTargeting(configTarget(body, problems) ?? parseTargeting(body.targeting, problems));
  const safety = parseSafety(body.safety, defaults, problems);
  if (!shape.success || problems.length > 0) return undefined;
  return {
    name: shape.data.name,
    experiments: experiments as Experiment[],
    targeting,
    safety,
    duration_s: shape.data.duration_s ?? null,
  };
}

/** Pisama puts targeting at the top level or under `targeting`; once is enough. */
function pisamaTargeting(body: Loose, problems: BodyProblem[]): TargetingInput {
  const nested = isLoose(body.targeting) ? body.targeting : {};
  const merged: Loose = { ...nested };
  for (const key of targetingKeys) {
    if (body[key] === undefined) continue;
    if (nested[key] !== undefined) {
      problems.push({
        path: `targeting.${key}`,
        message: `also given at the top level as ${key}: give it once`,
      });
    }
    merged[key] = body[key];
  }
  if (body.targeting !== undefined && body.targeting !== null && !isLoose(body.targeting)) {
    problems.push({ path: 'targeting', message: 'expected an object' });
    return {};
  }
  const parsed = targetingSchema.safeParse(merged);
  if (parsed.success) return parsed.data;
  // A key given at the top level is reported there.
  const top = (k: PropertyKey) => typeof k === 'string' && body[k] !== undefined && nested[k] === undefined;
  for (const p of toProblems(parsed.error.issues, [])) {
    const key = p.path.split(/[.[]/, 1)[0]!;
    problems.push({ ...p, path: top(key) ? p.path : `targeting.${p.path}` });
  }
  return {};
}

function knownType(type: string): boolean {
  return isFaultType(type) || Object.hasOwn(faultAliases, type);
}

function parsePisama(
  body: Loose,
  defaults: SessionSafety,
  problems: BodyProblem[],
): SessionInput | undefined {
  const shape = pisamaShape.safeParse(body);
  if (!shape.success) problems.push(...toProblems(shape.error.issues, []));
  const rawType = body.type;
  const type =
    typeof rawType === 'string' && knownType(rawType.toLowerCase()) ? rawType.toLowerCase() : rawType;
  const name = typeof body.name === 'string' && body.name !== '' ? body.name : type;
  const experiment = parseExperiment(
    {
      name,
      type,
      ...(body.config !== undefined ? { config: body.config } : {}),
      ...(body.probability !== undefined ? { probability: body.probability } : {}),
    },
    [],
    problems,
  );
  const targeting = finishTargeting(configTarget(body, problems) ?? pisamaTargeting(body, problems));
  const safety = parseSafety(body.safety, defaults, problems);
  if (!shape.success || !experiment || problems.length > 0) return undefined;
  return {
    name: experiment.name,
    experiments: [experiment],
    targeting,
    safety,
    duration_s: shape.data.duration_s ?? null,
  };
}

/** Dedupes problems that two checks found on the same spot (e.g. an empty `name`). */
function unique(problems: BodyProblem[]): BodyProblem[] {
  const seen = new Set<string>();
  return problems.filter((p) => {
    const key = `${p.path}\n${p.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

export const parseSessionBody: ParseSessionBody = (body, defaults) => {
  if (!isLoose(body)) return { ok: false, problems: [{ path: '(root)', message: 'expected a JSON object' }] };
  const problems: BodyProblem[] = [];
  // Without `experiments`, a body with a `type` is one Pisama experiment; anything else is
  // read as the SPEC shape (so a body missing both is told it needs `experiments`).
  const pisama = !Object.hasOwn(body, 'experiments') && Object.hasOwn(body, 'type');
  const value = pisama ? parsePisama(body, defaults, problems) : parseSpec(body, defaults, problems);
  if (value && problems.length === 0) return { ok: true, value };
  return { ok: false, problems: unique(problems) };
};
