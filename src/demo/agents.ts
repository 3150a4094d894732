/**
 * The demo's two sample agents, doing the same seeded tasks side by side: plan with the LLM,
 * search, ask the MCP weather tool, stream the answer. Each agent is sequential, so its request
 * sequence (and therefore every chaos decision, drawn per agent, tool and call number) depends
 * only on the seed and on the answers it gets.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { SeededRng } from '../chaos/rng.js';
import type { CallResult, CallSpec, ToolClient } from './client.js';

export interface Task {
  query: string;
  city: string;
}

const QUERIES = [
  'flights to Lisbon',
  'rust async runtimes',
  'sourdough hydration',
  'GPU prices',
  'chess openings',
];
const CITIES = ['Lisbon', 'Oslo', 'Nairobi', 'Lima', 'Osaka', 'Perth'];

export function demoTasks(seed: number, count: number): Task[] {
  const rng = new SeededRng(seed);
  return Array.from({ length: count }, () => ({
    query: QUERIES[Math.floor(rng.next() * QUERIES.length)]!,
    city: CITIES[Math.floor(rng.next() * CITIES.length)]!,
  }));
}

const chat = (content: string, stream: boolean): CallSpec => ({
  method: 'POST',
  path: '/v1/chat/completions',
  body: { model: 'demo-llm', stream, messages: [{ role: 'user', content }] },
  stream,
});
const search = (path: string, q: string): CallSpec => ({
  method: 'GET',
  path: `${path}?q=${encodeURIComponent(q)}`,
});
const weather = (city: string): CallSpec => ({
  method: 'POST',
  path: '/mcp',
  body: { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'get_weather', arguments: { city } } },
});

export type AgentKind = 'naive' | 'resilient';

export interface DemoAgent {
  readonly name: AgentKind;
  run(task: Task): Promise<void>;
}

/** No retries, no fallback: whatever comes back, a truncated stream included, is the answer. */
export class NaiveAgent implements DemoAgent {
  readonly name = 'naive';
  constructor(private readonly tools: ToolClient) {}

  async run(t: Task): Promise<void> {
    await this.tools.call(chat(`plan: ${t.query}`, false));
    await this.tools.call(search('/search', t.query));
    await this.tools.call(weather(t.city));
    await this.tools.call(chat(`answer: ${t.query}`, true));
  }
}

const MAX_ATTEMPTS = 4;

/**
 * Retries with exponential backoff and seeded jitter, waits as long as Retry-After asks, falls
 * back to the backup search when the search fails, and asks again when a stream is cut.
 */
export class ResilientAgent implements DemoAgent {
  readonly name = 'resilient';
  private readonly rng: SeededRng;
  constructor(
    private readonly tools: ToolClient,
    seed: number,
  ) {
    this.rng = new SeededRng(seed ^ 0x5eed);
  }

  async run(t: Task): Promise<void> {
    await this.retry(chat(`plan: ${t.query}`, false), MAX_ATTEMPTS);
    const found = await this.retry(search('/search', t.query), 1);
    if (!found.ok) await this.retry(search('/search2', t.query), MAX_ATTEMPTS);
    await this.retry(weather(t.city), MAX_ATTEMPTS);
    await this.retry(chat(`answer: ${t.query}`, true), MAX_ATTEMPTS);
  }

  private async retry(spec: CallSpec, attempts: number): Promise<CallResult> {
    let r = await this.tools.call(spec);
    for (let a = 1; a < attempts && !r.ok; a++) {
      const backoff = 20 * 2 ** (a - 1) + Math.floor(this.rng.next() * 10);
      // A few ms past Retry-After: timers may fire a little early and the proxy measures from its own clock.
      await sleep(r.retryAfterMs !== undefined ? Math.max(backoff, r.retryAfterMs + 15) : backoff);
      r = await this.tools.call(spec);
    }
    return r;
  }
}

/** Runs `tasks` one after another, task k starting no earlier than k × paceMs after the start. */
export async function runPaced(agent: DemoAgent, tasks: readonly Task[], paceMs: number): Promise<void> {
  const start = performance.now();
  for (const [k, task] of tasks.entries()) {
    const wait = start + k * paceMs - performance.now();
    if (wait > 0) await sleep(wait);
    await agent.run(task);
  }
}
