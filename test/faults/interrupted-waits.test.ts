import { request } from 'undici';
import { describe, expect, it } from 'vitest';
import { readAll, waitFor } from '../helpers/index.js';
import { openaiStream } from './llm-fixtures.js';
import { llmFaultgate, llmUpstream } from './llm-upstream.js';

/** Longer than a test may run: only the shutdown can end these waits. */
const NEVER_MS = 600_000;

/**
 * The streaming contract (docs/creating-faults.md): a wait cut short by shutdown or a session
 * abort is not a licence to drop data. The held bytes go on to the client, as a cut-short
 * request-phase delay goes on to the upstream.
 */
describe('a body wait cut short by shutdown passes the held data on', () => {
  it.each([
    ['uncooperative stall', `uncooperative;mode=stall;stall_ms=${NEVER_MS}`],
    ['sse delay', `sse;action=delay;delay_ms=${NEVER_MS}`],
    ['latency per chunk', `latency;phase=chunk;pattern=fixed;min_ms=${NEVER_MS}`],
  ])('%s', async (_name, fault) => {
    const fg = await llmFaultgate(await llmUpstream());
    const res = await request(`${fg.url}/v1/openai/stream`, { headers: { 'x-faultgate-fault': fault } });
    expect(res.statusCode).toBe(200);
    const body = readAll(res.body);
    await waitFor(() => fg.fg.metrics.faults.activeCount() === 1, 5000, 'the wait to begin');
    await fg.fg.close(NEVER_MS);
    expect((await body).toString()).toBe(openaiStream.join(''));
  });
});
