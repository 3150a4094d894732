/**
 * The demo's backends on one loopback server: an OpenAI-dialect LLM (JSON and SSE), two search
 * APIs and an MCP weather server. Answers are pure functions of the request, so a run depends
 * only on the seed and the faults, never on the mocks.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface MockUpstream {
  url: string;
  close(): Promise<void>;
}

const MAX_BODY = 64 * 1024;

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    req.setEncoding('utf8');
    req.on('data', (d: string) => {
      text += d;
      if (text.length > MAX_BODY) req.destroy(new Error('body too large'));
    });
    req.on('end', () => resolve(text));
    req.on('error', reject);
  });
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function parse(text: string): Record<string, unknown> {
  try {
    const v = JSON.parse(text) as unknown;
    return v && typeof v === 'object' ? (v as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/** The words of the answer: the last user message echoed into a short sentence. */
function answerWords(body: Record<string, unknown>): string[] {
  const messages = Array.isArray(body.messages) ? (body.messages as Array<{ content?: unknown }>) : [];
  const last = String(messages.at(-1)?.content ?? 'hello');
  return `Here is what I found about ${last.slice(0, 60)}: it looks fine today.`.split(' ');
}

function chat(res: ServerResponse, body: Record<string, unknown>): void {
  const words = answerWords(body);
  const base = { id: 'chatcmpl-demo', created: 1_700_000_000, model: 'demo-llm' };
  if (body.stream !== true) {
    json(res, 200, {
      ...base,
      object: 'chat.completion',
      choices: [
        { index: 0, message: { role: 'assistant', content: words.join(' ') }, finish_reason: 'stop' },
      ],
      usage: { prompt_tokens: 12, completion_tokens: words.length, total_tokens: 12 + words.length },
    });
    return;
  }
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  for (const [i, w] of words.entries()) {
    const delta = { content: i === 0 ? w : ` ${w}` };
    const chunk = {
      ...base,
      object: 'chat.completion.chunk',
      choices: [{ index: 0, delta, finish_reason: null }],
    };
    res.write(`data: ${JSON.stringify(chunk)}\n\n`);
  }
  res.end('data: [DONE]\n\n');
}

function search(res: ServerResponse, url: URL, engine: string): void {
  const q = url.searchParams.get('q') ?? '';
  json(res, 200, {
    engine,
    query: q,
    results: [1, 2, 3].map((n) => ({
      title: `${q} result ${n}`,
      url: `https://example.invalid/${engine}/${n}`,
    })),
  });
}

function mcp(res: ServerResponse, body: Record<string, unknown>): void {
  const params = (body.params ?? {}) as { name?: string; arguments?: { city?: string } };
  if (body.method !== 'tools/call' || params.name !== 'get_weather') {
    json(res, 200, { jsonrpc: '2.0', id: body.id ?? null, error: { code: -32601, message: 'unknown tool' } });
    return;
  }
  const city = params.arguments?.city ?? 'Nowhere';
  const temp = 10 + (city.length % 15);
  const text = `${city}: ${temp} °C, light wind`;
  json(res, 200, { jsonrpc: '2.0', id: body.id ?? null, result: { content: [{ type: 'text', text }] } });
}

async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://mock');
  if (req.method !== 'POST') req.resume();
  const body = req.method === 'POST' ? parse(await readBody(req)) : {};
  if (url.pathname === '/v1/chat/completions' && req.method === 'POST') return chat(res, body);
  if (url.pathname === '/search') return search(res, url, 'search');
  if (url.pathname === '/search2') return search(res, url, 'search2');
  if (url.pathname === '/mcp' && req.method === 'POST') return mcp(res, body);
  json(res, 404, { error: { message: `no mock at ${url.pathname}` } });
}

export async function startMockUpstream(): Promise<MockUpstream> {
  const server: Server = createServer((req, res) => {
    handle(req, res).catch(() => res.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
