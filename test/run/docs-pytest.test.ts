/**
 * The pytest example of docs/testing-agents.md, run as written: its chaos.yaml and test_agent.py
 * are cut from the page, and `faultgate run` runs pytest on them. Keeps the page honest.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { cli, ROOT, tempDir } from './fixtures.js';

const hasPytest = (() => {
  try {
    execFileSync('python3', ['-c', 'import pytest, requests'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

/** The fenced block of `lang` whose first line is the comment `# NAME...`. */
function block(page: string, lang: string, name: string): string {
  const fence = '```';
  for (const part of page.split(`${fence}${lang}\n`).slice(1)) {
    const body = part.slice(0, part.indexOf(fence));
    if (body.startsWith(`# ${name}`)) return body;
  }
  throw new Error(`docs/testing-agents.md has no ${lang} block starting with "# ${name}"`);
}

describe('docs/testing-agents.md pytest example', () => {
  it.skipIf(!hasPytest)('passes under faultgate run: chaos happened and the planner recovered', async () => {
    const page = readFileSync(`${ROOT}/docs/testing-agents.md`, 'utf8');
    const { dir, file } = tempDir();
    const config = file('chaos.yaml', block(page, 'yaml', 'chaos.yaml'));
    const tests = file('test_agent.py', block(page, 'python', 'test_agent.py'));
    const out = file('report.json', '');
    const run = await cli([
      'run',
      '-c',
      config,
      '--agent',
      'planner',
      '--report',
      out,
      '--',
      'python3',
      '-m',
      'pytest',
      '-q',
      '-p',
      'no:cacheprovider',
      '--rootdir',
      dir,
      tests,
    ]);
    expect(run.code, `${run.stdout}\n${run.stderr}`).toBe(0);
    expect(run.stdout).toContain('1 passed');
    // The report faultgate wrote agrees with what the test asserted through the admin API.
    const report = JSON.parse(readFileSync(out, 'utf8'));
    const search = report.agents[0].tools[0];
    expect(report.agents[0].agent).toBe('planner');
    expect(search.tool).toBe('search');
    expect(search.faults.error).toBeGreaterThan(0);
    expect(search.requests).toBeGreaterThan(50);
  });
});
