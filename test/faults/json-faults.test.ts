import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { gzipSync } from 'node:zlib';
import { request } from 'undici';
import { describe, expect, it } from 'vitest';
import { configYaml, readAll, scrape, startFaultgate, startUpstream } from '../helpers/index.js';

type Body = Record<string, unknown>;
interface Seen {
  body: string;
  contentLength: string | undefined;
}

const openaiAnswer = (n: number) => ({
  id: `chatcmpl-${n}abcdef`,
  object: 'chat.completion',
  created: 1_700_000_000 + n,
  model: 'gpt-4o-mini',
  choices: [
    {
      index: 0,
      message: { role: 'assistant', content: `The bridge is open and ${n * 10} metres long.`, refusal: null },
      finish_reason: 'stop',
    },
  ],
  usage: { prompt_tokens: 12, completion_tokens: 9, total_tokens: 21 },
});

const anthropicAnswer = {
  id: 'msg_01XFDUDYJgAACzvnptvVoYEL',
  type: 'message',
  role: 'assistant',
  model: 'claude-sonnet-4',
  content: [{ type: 'text', text: 'Yes, the store is open.' }],
  stop_reason: 'end_turn',
  usage: { input_tokens: 25, output_tokens: 8 },
};

const searchResults = (n: number) => ({
  query: 'bridges',
  results: [
    {
      id: 'doc_a1b2c3d4',
      title: `Golden Gate ${n}`,
      url: 'https://kb.example.com/bridges/golden-gate',
      score: 0.91,
    },
    { id: 'doc_e5f6a7b8', title: 'Tower Bridge', url: 'https://kb.example.com/bridges/tower', score: 0.72 },
  ],
});

/** An upstream speaking OpenAI, Anthropic, MCP and a plain JSON tool; it records what it received. */
async function upstream() {
  const seen: Seen[] = [];
  let n = 0;
  const json = (res: ServerResponse, value: unknown) => {
    const body = JSON.stringify(value);
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  };
  const up = await startUpstream(async (req: IncomingMessage, res: ServerResponse) => {
    const raw = (await readAll(req)).toString('utf8');
    seen.push({ body: raw, contentLength: req.headers['content-length'] });
    n++;
    const path = req.url!.split('?')[0]!;
    if (path === '/v1/chat/completions') return json(res, openaiAnswer(n));
    if (path === '/anthropic/v1/messages') return json(res, anthropicAnswer);
    if (path === '/mcp') {
      const { id } = JSON.parse(raw) as { id: number };
      return json(res, {
        jsonrpc: '2.0',
        id,
        result: { content: [{ type: 'text', text: `Sunny, ${n} degrees` }] },
      });
    }
    if (path === '/tool/search') return json(res, searchResults(n));
    if (path === '/tool/gzip') {
      const body = gzipSync(JSON.stringify(searchResults(n)));
      res.writeHead(200, {
        'content-type': 'application/json',
        'content-encoding': 'gzip',
        'content-length': body.length,
      });
      return res.end(body);
    }
    if (path === '/tool/big') return json(res, { blob: 'x'.repeat(10_000) });
    if (path === '/tool/text') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      return res.end(`report ${n}\nline two\nline three\nline four`);
    }
    res.writeHead(404).end();
  });
  return { up, seen };
}

async function setup(extra = '') {
  const { up, seen } = await upstream();
  const fg = await startFaultgate(
    configYaml(
      { upstream: up.url },
      `chaos: { header_overrides: true, seed: 11 }
limits: { max_body_bytes: 4096 }
tools:
  - { name: llm, match: { path: "/v1/**" }, format: openai }
  - { name: claude, match: { path: "/anthropic/**" }, format: anthropic }
  - { name: mcp, match: { path: /mcp }, format: mcp }
  - { name: search, match: { path: "/tool/**" }, format: json }
${extra}`,
    ),
  );
  return { fg, seen };
}

/** Sends a request (with an override) and returns status, headers and the parsed or raw body. */
async function call(url: string, fault: string | undefined, body?: unknown) {
  const res = await request(url, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { 'content-type': 'application/json', ...(fault ? { 'x-faultgate-fault': fault } : {}) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const raw = Buffer.from(await res.body.arrayBuffer());
  const length = res.headers['content-length'];
  // Whatever faultgate did, the length header never lies: absent (chunked) or exact.
  if (length !== undefined) expect(Number(length)).toBe(raw.length);
  return { status: res.statusCode, headers: res.headers, raw, text: raw.toString('utf8') };
}

const mcpCall = (id: number, args: Body) => ({
  jsonrpc: '2.0',
  id,
  method: 'tools/call',
  params: { name: 'weather', arguments: args },
});
const unique = () => `?t=${randomUUID()}`;

describe('hallucination', () => {
  it('mutates an OpenAI chat completion into valid JSON of the same shape', async () => {
    const { fg } = await setup();
    const r = await call(`${fg.url}/v1/chat/completions`, 'hallucination;types=wrong_value;severity=0.5', {
      messages: [],
    });
    expect(r.status).toBe(200);
    expect(r.headers['x-faultgate-injected']).toBe('override/hallucination');
    expect(r.headers['content-length']).toBeUndefined();
    const got = JSON.parse(r.text) as Body;
    expect(got).not.toEqual(openaiAnswer(1));
    expect(Object.keys(got)).toEqual(Object.keys(openaiAnswer(1)));
    const m = await scrape(fg.adminUrl);
    expect(
      m.get(
        'faultgate_faults_injected_total{agent="127.0.0.1",tool="llm",experiment="override",fault="hallucination"}',
      ),
    ).toBe(1);
  });

  it('contradicts every value of an Anthropic message at severity 1', async () => {
    const { fg } = await setup();
    const r = await call(`${fg.url}/anthropic/v1/messages`, 'hallucination;types=contradiction;severity=1', {
      messages: [],
    });
    const got = JSON.parse(r.text) as typeof anthropicAnswer;
    expect(got.content[0]!.text).toBe('No, the store is open.');
    expect(got.usage).toEqual({ input_tokens: -25, output_tokens: -8 });
  });

  it('replaces ids and urls of a plain tool result with nonexistent ones', async () => {
    const { fg } = await setup();
    const r = await call(`${fg.url}/tool/search`, 'hallucination;types=nonexistent_reference;severity=1');
    const got = JSON.parse(r.text) as ReturnType<typeof searchResults>;
    for (const [i, item] of got.results.entries()) {
      const before = searchResults(1).results[i]!;
      expect(item.url).toMatch(/^https:\/\/kb\.example\.com\/bridges\/[a-z0-9]+-[a-z]+-\d{4}$/);
      expect(item.id).toMatch(/^doc_[\da-f]{8}$/);
      expect(item.id).not.toBe(before.id);
      expect(item.score).toBe(before.score);
    }
  });

  it('outdated replays the earlier response to the same MCP call, with the current JSON-RPC id', async () => {
    const { fg, seen } = await setup();
    const url = `${fg.url}/mcp${unique()}`;
    const fault = 'hallucination;types=outdated;severity=0.3';
    const first = await call(url, fault, mcpCall(1, { city: 'Oslo' }));
    // Nothing earlier yet: wrong_value instead.
    const original = {
      jsonrpc: '2.0',
      id: 1,
      result: { content: [{ type: 'text', text: 'Sunny, 1 degrees' }] },
    };
    expect(JSON.parse(first.text)).not.toEqual(original);
    expect(seen).toHaveLength(1);
    const second = await call(url, fault, mcpCall(2, { city: 'Oslo' }));
    expect(JSON.parse(second.text)).toEqual({
      jsonrpc: '2.0',
      id: 2,
      result: { content: [{ type: 'text', text: 'Sunny, 1 degrees' }] },
    });
    // Another request body is another key: nothing earlier to replay, so wrong_value instead.
    const other = await call(url, fault, mcpCall(3, { city: 'Rome' }));
    expect(JSON.parse(other.text)).not.toMatchObject({ result: { content: [{ text: 'Sunny, 1 degrees' }] } });
  });

  it('passes a body over max_body_bytes untouched and counts it as skipped', async () => {
    const { fg } = await setup();
    const r = await call(`${fg.url}/tool/big`, 'hallucination;types=wrong_value;severity=1');
    expect(r.text).toBe(JSON.stringify({ blob: 'x'.repeat(10_000) }));
    const text = await call(`${fg.url}/tool/text`, 'hallucination');
    expect(text.text).toMatch(/^report \d+\nline two/);
    const m = await scrape(fg.adminUrl);
    const skipped = (reason: string) =>
      m.get(`faultgate_faults_skipped_total{experiment="override",fault="hallucination",reason="${reason}"}`);
    expect(skipped('body over max_body_bytes')).toBe(1);
    expect(skipped('response body is not JSON')).toBe(1);
  });

  it('is deterministic for a seed across instances (config experiment)', async () => {
    const experiment = `experiments:
  - { name: lies, type: hallucination, probability: 1, target: { tools: [search] }, config: { types: [wrong_value, contradiction, partial_truth], severity: 0.4 } }`;
    const bodies: string[] = [];
    for (let i = 0; i < 2; i++) {
      const { fg } = await setup(experiment);
      for (let j = 0; j < 3; j++) bodies.push((await call(`${fg.url}/tool/search`, undefined)).text);
    }
    expect(bodies.slice(0, 3)).toEqual(bodies.slice(3));
    expect(new Set(bodies.slice(0, 3)).size).toBe(3);
  });
});

describe('context_corruption', () => {
  it('truncates the text of an MCP tools/call result', async () => {
    const { fg } = await setup();
    const r = await call(
      `${fg.url}/mcp`,
      'context_corruption;types=truncate;severity=1',
      mcpCall(7, { city: 'Oslo' }),
    );
    const got = JSON.parse(r.text) as { result: { content: { text: string }[] } };
    const text = got.result.content[0]!.text;
    expect('Sunny, 1 degrees'.startsWith(text) && text.length < 'Sunny, 1 degrees'.length).toBe(true);
  });

  it('decodes a gzip body, rewrites it and drops content-encoding', async () => {
    const { fg } = await setup();
    const r = await call(`${fg.url}/tool/gzip`, 'context_corruption;types=drop;severity=0.5');
    expect(r.headers['content-encoding']).toBeUndefined();
    const got = JSON.parse(r.text) as Body;
    expect(JSON.stringify(got).length).toBeLessThan(JSON.stringify(searchResults(1)).length);
  });

  it('stale replays an earlier text body; overflow inflates the output', async () => {
    const { fg } = await setup();
    const url = `${fg.url}/tool/text${unique()}`;
    await call(url, 'context_corruption;types=stale;severity=0.2');
    const second = await call(url, 'context_corruption;types=stale;severity=0.2');
    expect(second.text).toBe('report 1\nline two\nline three\nline four');
    const big = await call(`${fg.url}/tool/search`, 'context_corruption;types=overflow');
    const got = JSON.parse(big.text) as ReturnType<typeof searchResults>;
    expect(big.raw.length).toBeGreaterThan(256 * 1024);
    expect(got.results).toHaveLength(2);
  });
});

describe('context_truncation', () => {
  const longText = 'Please summarise the following very long document about bridges and tunnels.';

  it('cuts the last user message of an OpenAI request, with a correct content-length upstream', async () => {
    const { fg, seen } = await setup();
    const messages = [
      { role: 'system', content: 'You are terse.' },
      { role: 'user', content: longText },
      { role: 'assistant', content: 'Sure.' },
      { role: 'user', content: [{ type: 'text', text: longText }] },
    ];
    const r = await call(`${fg.url}/v1/chat/completions`, 'context_truncation;max_chars=10', {
      model: 'm',
      messages,
    });
    expect(r.status).toBe(200);
    expect(r.headers['x-faultgate-injected']).toBe('override/context_truncation');
    const received = seen[0]!;
    expect(Number(received.contentLength)).toBe(Buffer.byteLength(received.body));
    const sent = JSON.parse(received.body) as { messages: typeof messages };
    expect(sent.messages.slice(0, 3)).toEqual(messages.slice(0, 3));
    expect(sent.messages[3]).toEqual({
      role: 'user',
      content: [{ type: 'text', text: longText.slice(0, 10) }],
    });
  });

  it('cuts the values a path selects in an MCP tools/call', async () => {
    const { fg, seen } = await setup();
    const args = { query: 'bridges of northern europe', region: 'Scandinavia' };
    await call(
      `${fg.url}/mcp`,
      'context_truncation;fraction=0.5;paths=params.arguments.query',
      mcpCall(4, args),
    );
    const received = seen[0]!;
    expect(Number(received.contentLength)).toBe(Buffer.byteLength(received.body));
    expect(JSON.parse(received.body)).toEqual(mcpCall(4, { query: 'bridges of no', region: 'Scandinavia' }));
  });

  it('leaves a non-JSON request body alone and counts it as skipped', async () => {
    const { fg, seen } = await setup();
    const res = await request(`${fg.url}/tool/search`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain', 'x-faultgate-fault': 'context_truncation;max_chars=2' },
      body: 'plain words here',
    });
    await res.body.dump();
    expect(seen[0]!.body).toBe('plain words here');
    const m = await scrape(fg.adminUrl);
    expect(
      m.get(
        'faultgate_faults_skipped_total{experiment="override",fault="context_truncation",reason="request body is not JSON"}',
      ),
    ).toBe(1);
  });
});
