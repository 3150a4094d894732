import { z } from 'zod';
import { parseJson } from '../stream/buffered.js';
import { nonNegInt } from './kit/common.js';
import {
  cutText,
  isContainer,
  type Json,
  type JsonDoc,
  type JsonObject,
  type PathSegment,
  parsePath,
  type Slot,
  selectPath,
} from './kit/json-walk.js';
import type { Fault } from './types.js';
import { defineFault } from './define.js';

function pathProblem(path: string): string | undefined {
  try {
    parsePath(path);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

const contextTruncationSchema = z
  .strictObject({
    max_chars: nonNegInt.optional(),
    fraction: z.number().min(0).max(1).optional(),
    paths: z
      .array(
        z
          .string()
          .min(1)
          .superRefine((p, ctx) => {
            const problem = pathProblem(p);
            if (problem) ctx.addIssue({ code: 'custom', message: `${problem}; e.g. messages[-1].content` });
          }),
      )
      .optional(),
  })
  .refine((c) => (c.max_chars === undefined) !== (c.fraction === undefined), {
    message: 'give exactly one of max_chars or fraction',
  });
type ContextTruncationConfig = z.infer<typeof contextTruncationSchema>;

/** Protocol discriminators: cutting them would break the request rather than shorten its text. */
const STRUCTURAL_KEYS = new Set(['type', 'role']);

/** The string slots at or beneath `slot`, leaving out `type` and `role` values. */
function stringSlots(slot: Slot, out: Slot[] = []): Slot[] {
  const { value } = slot;
  if (typeof value === 'string') {
    if (!STRUCTURAL_KEYS.has(String(slot.key))) out.push(slot);
  } else if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) stringSlots({ parent: value, key: i, value: value[i]! }, out);
  } else if (isContainer(value)) {
    for (const [k, v] of Object.entries(value)) stringSlots({ parent: value, key: k, value: v }, out);
  }
  return out;
}

const isObject = (v: Json | undefined): v is JsonObject => isContainer(v ?? null) && !Array.isArray(v);

/** The text of a message's `content` (a string, or text parts): OpenAI, Anthropic, Responses input. */
function messageText(message: JsonObject): Slot[] {
  const content = message.content;
  if (typeof content === 'string') return [{ parent: message, key: 'content', value: content }];
  if (!Array.isArray(content)) return [];
  return content.flatMap((part) =>
    isObject(part) && typeof part.text === 'string' ? [{ parent: part, key: 'text', value: part.text }] : [],
  );
}

/** The last item of `items` with role user (Gemini: role user or none) and its text. */
function lastUserText(items: Json[], partsKey: 'content' | 'parts'): Slot[] | undefined {
  for (let i = items.length - 1; i >= 0; i--) {
    const m = items[i];
    if (!isObject(m) || (m.role !== 'user' && !(partsKey === 'parts' && m.role === undefined))) continue;
    return partsKey === 'content' ? messageText(m) : messageText({ content: m.parts ?? null });
  }
  return undefined;
}

/**
 * Without `paths`: the last user message of an LLM call (OpenAI/Anthropic `messages`, Gemini
 * `contents`, Responses API `input`), else MCP `params.arguments`, else the `params` of any
 * JSON-RPC call, else every string of the body.
 */
export function defaultSelection(doc: JsonDoc): Slot[] {
  const root = doc.root;
  const whole: Slot = { parent: doc as unknown as JsonObject, key: 'root', value: root };
  if (!isObject(root)) return stringSlots(whole);
  if (Array.isArray(root.messages)) return lastUserText(root.messages, 'content') ?? [];
  if (Array.isArray(root.contents)) return lastUserText(root.contents, 'parts') ?? [];
  if (typeof root.input === 'string') return [{ parent: root, key: 'input', value: root.input }];
  if (Array.isArray(root.input)) return lastUserText(root.input, 'content') ?? [];
  const params = root.params;
  if (isObject(params) && isObject(params.arguments)) {
    return stringSlots({ parent: params, key: 'arguments', value: params.arguments });
  }
  if ('jsonrpc' in root)
    return isObject(params) ? stringSlots({ parent: root, key: 'params', value: params }) : [];
  return stringSlots(whole);
}

/** Selected by `paths`: each match, or the strings beneath a matched object or array. */
function pathSelection(doc: JsonDoc, paths: readonly PathSegment[][]): Slot[] {
  const seen = new Map<object, Set<string | number>>();
  const out: Slot[] = [];
  for (const path of paths) {
    for (const slot of selectPath(doc, path).flatMap((s) => stringSlots(s))) {
      const keys = seen.get(slot.parent) ?? new Set();
      seen.set(slot.parent, keys);
      if (keys.has(slot.key)) continue; // one string matched by two paths is cut once
      keys.add(slot.key);
      out.push(slot);
    }
  }
  return out;
}

/**
 * Request side: shortens string values of the JSON request body (`max_chars`, or keep a
 * `fraction`). The framework sends the new body with its new content-length.
 */
function createContextTruncation(config: ContextTruncationConfig): Fault {
  const paths = config.paths?.map(parsePath);
  const shorten = (s: string) =>
    cutText(s, config.max_chars ?? Math.floor(s.length * (config.fraction ?? 1)));
  return {
    requestBody(ctx, body) {
      const root = parseJson(body) as Json | undefined;
      if (root === undefined) {
        ctx.skipped('request body is not JSON');
        return undefined;
      }
      const doc: JsonDoc = { root };
      let changed = false;
      for (const slot of paths ? pathSelection(doc, paths) : defaultSelection(doc)) {
        const cut = shorten(slot.value as string);
        if (cut === slot.value) continue;
        (slot.parent as Record<string | number, Json>)[slot.key] = cut;
        changed = true;
      }
      if (!changed) {
        ctx.skipped('no selected string longer than the cut');
        return undefined;
      }
      return Buffer.from(JSON.stringify(doc.root));
    },
  };
}

export const contextTruncationFault = defineFault({
  type: 'context_truncation',
  schema: contextTruncationSchema,
  create: createContextTruncation,
});
