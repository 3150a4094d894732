/**
 * Rewrites the text of LLM answers, whole (JSON bodies) or piece by piece (stream events), for
 * OpenAI Chat Completions (and legacy completions), the Responses API, Anthropic Messages and
 * Gemini. `refuse` puts a refusal where the answer was; `partial` keeps the first half of every
 * text part and reports a length stop. Objects are rewritten in place; each function returns
 * whether anything changed, so untouched events can keep their exact bytes.
 */

export type AnswerMode = 'refuse' | 'partial';
type Obj = Record<string, unknown>;

export const DEFAULT_REFUSAL = "I'm sorry, but I can't help with that request.";

/** `index` moved back by one when it would split a UTF-16 surrogate pair; clamped to the text. */
export function safeCut(text: string, index: number): number {
  const i = Math.max(0, Math.min(text.length, index));
  const c = text.charCodeAt(i - 1);
  return i > 0 && i < text.length && c >= 0xd800 && c <= 0xdbff ? i - 1 : i;
}

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

interface Part {
  total: number;
  sent: number;
  /** Text seen but not sent yet: at most half of the part so far. */
  pending: string;
}

/**
 * The text decisions of one answer. An *answer* (a choice, a message) gets one refusal, in its
 * first *part*; `partial` sends, at every piece, half of what the part holds so far, so a stream
 * ends having sent exactly the first half of each part without ever waiting for the end.
 */
export class AnswerRewriter {
  readonly #owner = new Map<string, string>();
  readonly #parts = new Map<string, Part>();

  constructor(
    readonly mode: AnswerMode,
    readonly refusal: string,
  ) {}

  /** What to send instead of the next piece `text` of `part` (streams). */
  delta(answer: string, part: string, text: string): string {
    if (this.mode === 'refuse') {
      if (this.#owner.has(answer)) return '';
      this.#owner.set(answer, part);
      return this.refusal;
    }
    const p = this.#parts.get(part) ?? { total: 0, sent: 0, pending: '' };
    this.#parts.set(part, p);
    p.total += text.length;
    p.pending += text;
    const n = safeCut(p.pending, Math.floor(p.total / 2) - p.sent);
    const out = p.pending.slice(0, n);
    p.pending = p.pending.slice(n);
    p.sent += n;
    return out;
  }

  /** The complete text of `part` (JSON bodies, streams' `done` events), as its pieces were sent. */
  whole(answer: string, part: string, text: string): string {
    if (this.mode === 'partial') return text.slice(0, safeCut(text, Math.floor(text.length / 2)));
    const owner = this.#owner.get(answer);
    if (owner === undefined) this.#owner.set(answer, part);
    return owner === undefined || owner === part ? this.refusal : '';
  }
}

/** Records whether any value changed. */
class Edit {
  changed = false;
  set(o: Obj, key: string, value: unknown): void {
    if (o[key] === value) return;
    o[key] = value;
    this.changed = true;
  }
  /** Removes the keys present; true if there was any. */
  drop(o: Obj, ...keys: string[]): boolean {
    let any = false;
    for (const key of keys) {
      if (!(key in o)) continue;
      delete o[key];
      any = this.changed = true;
    }
    return any;
  }
}

/** Rewrites a complete JSON answer in place; false when the body is not an LLM answer. */
export function rewriteAnswerJson(body: unknown, rw: AnswerRewriter): boolean {
  if (!isObj(body)) return false;
  const edit = new Edit();
  if (body.type === 'message' && Array.isArray(body.content)) anthropicMessage(body, rw, edit);
  else if (body.object === 'response' && Array.isArray(body.output)) responsesBody(body, rw, edit);
  else if (Array.isArray(body.choices)) chatChoices(body.choices, rw, edit, false);
  else if (Array.isArray(body.candidates)) geminiCandidates(body.candidates, rw, edit, false);
  else return false;
  return true;
}

function chatChoices(choices: unknown[], rw: AnswerRewriter, edit: Edit, streaming: boolean): void {
  const text = streaming ? rw.delta.bind(rw) : rw.whole.bind(rw);
  choices.forEach((c, i) => {
    if (!isObj(c)) return;
    const key = String(c.index ?? i);
    const msg = isObj(c.delta) ? c.delta : isObj(c.message) ? c.message : undefined;
    if (msg) {
      // A model that refuses does not call tools: its calls become the refusal text.
      const called = rw.mode === 'refuse' && edit.drop(msg, 'tool_calls', 'function_call');
      if (typeof msg.content === 'string' || called || (!streaming && rw.mode === 'refuse'))
        edit.set(msg, 'content', text(key, key, typeof msg.content === 'string' ? msg.content : ''));
    }
    if (typeof c.text === 'string') edit.set(c, 'text', text(key, key, c.text));
    if (c.finish_reason != null) edit.set(c, 'finish_reason', rw.mode === 'partial' ? 'length' : 'stop');
  });
}

function anthropicMessage(msg: Obj, rw: AnswerRewriter, edit: Edit): void {
  const content = msg.content as unknown[];
  if (rw.mode === 'refuse') {
    const thinking = content.filter((b) => isObj(b) && /thinking/.test(String(b.type)));
    edit.set(msg, 'content', [...thinking, { type: 'text', text: rw.refusal }]);
    if (msg.stop_reason === 'tool_use') edit.set(msg, 'stop_reason', 'end_turn');
    return;
  }
  content.forEach((b, i) => {
    if (isObj(b) && b.type === 'text' && typeof b.text === 'string')
      edit.set(b, 'text', rw.whole('message', String(i), b.text));
  });
  edit.set(msg, 'stop_reason', 'max_tokens');
}

function responsesBody(body: Obj, rw: AnswerRewriter, edit: Edit): void {
  for (const [oi, item] of (body.output as unknown[]).entries()) responsesItem(item, oi, rw, edit);
  if (typeof body.output_text === 'string')
    edit.set(body, 'output_text', rw.whole('response', '0:0', body.output_text));
  if (rw.mode === 'partial') {
    edit.set(body, 'status', 'incomplete');
    body.incomplete_details = { reason: 'max_output_tokens' };
  }
}

function responsesItem(item: unknown, oi: number, rw: AnswerRewriter, edit: Edit): void {
  if (!isObj(item) || item.type !== 'message' || !Array.isArray(item.content)) return;
  item.content.forEach((p, ci) => {
    if (isObj(p) && p.type === 'output_text' && typeof p.text === 'string')
      edit.set(p, 'text', rw.whole('response', `${oi}:${ci}`, p.text));
  });
}

function geminiCandidates(candidates: unknown[], rw: AnswerRewriter, edit: Edit, streaming: boolean): void {
  candidates.forEach((c, i) => {
    if (!isObj(c)) return;
    const key = String(c.index ?? i);
    const parts = isObj(c.content) && Array.isArray(c.content.parts) ? c.content.parts : [];
    parts.forEach((p, j) => {
      if (!isObj(p) || p.thought === true) return;
      if (rw.mode === 'refuse' && edit.drop(p, 'functionCall')) p.text = '';
      if (typeof p.text !== 'string') return;
      // Parts of a stream's chunks form one text; a JSON body's parts are separate texts.
      const out = streaming ? rw.delta(key, key, p.text) : rw.whole(key, `${key}:${j}`, p.text);
      edit.set(p, 'text', out);
    });
    if (c.finishReason != null) edit.set(c, 'finishReason', rw.mode === 'partial' ? 'MAX_TOKENS' : 'STOP');
  });
}

/**
 * The per-stream state of rewriting one streamed answer event by event. `rewrite` takes an
 * event's name and parsed data, changes the data in place, and returns whether it changed and
 * the event's new name when it needs one.
 */
export class AnswerStream {
  /** Anthropic tool_use blocks turned into text blocks (refuse). */
  readonly #converted = new Set<unknown>();

  constructor(readonly rw: AnswerRewriter) {}

  rewrite(data: unknown): { changed: boolean; name?: string } {
    const edit = new Edit();
    if (!isObj(data)) return edit;
    const type = typeof data.type === 'string' ? data.type : '';
    if (type.startsWith('response.')) return this.#responses(type, data, edit);
    if (type.startsWith('content_block_') || type === 'message_delta') this.#anthropic(type, data, edit);
    else if (Array.isArray(data.choices)) chatChoices(data.choices, this.rw, edit, true);
    else if (Array.isArray(data.candidates)) geminiCandidates(data.candidates, this.rw, edit, true);
    return edit;
  }

  #anthropic(type: string, data: Obj, edit: Edit): void {
    const rw = this.rw;
    const part = String(data.index);
    if (type === 'content_block_start' && isObj(data.content_block)) {
      const block = data.content_block;
      if (rw.mode === 'refuse' && /tool_use$/.test(String(block.type))) {
        this.#converted.add(data.index);
        edit.set(data, 'content_block', { type: 'text', text: '' });
      } else if (block.type === 'text' && typeof block.text === 'string' && block.text !== '')
        edit.set(block, 'text', rw.delta('message', part, block.text));
    } else if (type === 'content_block_delta' && isObj(data.delta)) {
      const d = data.delta;
      if (d.type === 'text_delta' && typeof d.text === 'string')
        edit.set(d, 'text', rw.delta('message', part, d.text));
      else if (d.type === 'input_json_delta' && this.#converted.has(data.index))
        edit.set(data, 'delta', { type: 'text_delta', text: rw.delta('message', part, '') });
    } else if (type === 'message_delta' && isObj(data.delta) && data.delta.stop_reason != null) {
      if (rw.mode === 'partial') edit.set(data.delta, 'stop_reason', 'max_tokens');
      else if (data.delta.stop_reason === 'tool_use') edit.set(data.delta, 'stop_reason', 'end_turn');
    }
  }

  #responses(type: string, data: Obj, edit: Edit): { changed: boolean; name?: string } {
    const rw = this.rw;
    const part = `${data.output_index}:${data.content_index}`;
    if (type === 'response.output_text.delta' && typeof data.delta === 'string')
      edit.set(data, 'delta', rw.delta('response', part, data.delta));
    else if (type === 'response.output_text.done' && typeof data.text === 'string')
      edit.set(data, 'text', rw.whole('response', part, data.text));
    else if (type === 'response.content_part.done' && isObj(data.part) && data.part.type === 'output_text')
      edit.set(data.part, 'text', rw.whole('response', part, String(data.part.text ?? '')));
    else if (type === 'response.output_item.done')
      responsesItem(data.item, Number(data.output_index), rw, edit);
    else if (type === 'response.completed' && isObj(data.response) && Array.isArray(data.response.output)) {
      responsesBody(data.response, rw, edit);
      // A response cut by max_output_tokens ends with `response.incomplete`, not `completed`.
      if (rw.mode === 'partial') {
        edit.set(data, 'type', 'response.incomplete');
        return { changed: true, name: 'response.incomplete' };
      }
    }
    return edit;
  }
}
