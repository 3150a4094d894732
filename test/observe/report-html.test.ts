/**
 * The html report in a real browser: headless Chromium (Debian package `chromium`, which CI
 * installs) driven by playwright-core. The page is served by the real admin route. A missing
 * Chromium fails the suite: the issue requires this check, so it must never pass silently.
 */
import { existsSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createAdminServer } from '../../src/admin/server.js';
import { Metrics } from '../../src/observe/metrics.js';
import type { Report } from '../../src/observe/report-model.js';
import { EVIL_AGENT, EVIL_TOOL, emptyReport, sampleReport } from './report-fixture.js';

const CHROMIUM = process.env.FAULTGATE_CHROMIUM ?? '/usr/bin/chromium';

interface Visit {
  page: Page;
  problems: string[];
}

describe('html report in headless Chromium', () => {
  let browser: Browser;
  let report: Report = sampleReport();
  let base = '';
  const server = createAdminServer({
    metrics: new Metrics(10),
    ready: () => true,
    report: () => report,
    token: '',
  });
  const pages: Page[] = [];

  beforeAll(async () => {
    if (!existsSync(CHROMIUM))
      throw new Error(
        `Chromium is missing at ${CHROMIUM}: install it with \`apt-get install -y --no-install-recommends chromium\` (.ci/run does) or set FAULTGATE_CHROMIUM`,
      );
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }, 30_000);

  afterEach(async () => {
    for (const p of pages.splice(0)) await p.close();
  });

  afterAll(async () => {
    await browser?.close();
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  });

  /** Opens the report; every console error, page error, dialog or non-local request is a problem. */
  async function visit(r: Report): Promise<Visit> {
    report = r;
    const page = await browser.newPage();
    pages.push(page);
    const problems: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('dialog', (d) => {
      problems.push(`dialog: ${d.message()}`);
      void d.dismiss();
    });
    page.on('request', (req) => {
      if (!req.url().startsWith(`${base}/`) && !req.url().startsWith('data:'))
        problems.push(`request outside localhost: ${req.url()}`);
    });
    const res = await page.goto(`${base}/api/v1/report?format=html`, { waitUntil: 'load' });
    expect(res?.status()).toBe(200);
    expect(res?.headers()['content-type']).toBe('text/html; charset=utf-8');
    return { page, problems };
  }

  it('renders the tables and the SVG timeline without errors', async () => {
    const r = sampleReport();
    const { page, problems } = await visit(r);
    expect(await page.title()).toBe('faultgate report');
    const tables = page.locator('table');
    expect(await tables.count()).toBe(5);
    // summary: overall + one row per agent; then one table per agent: its tools + the roll-up
    expect(await tables.nth(0).locator('tbody tr').count()).toBe(1 + r.agents.length);
    for (const [i, a] of r.agents.entries())
      expect(
        await tables
          .nth(1 + i)
          .locator('tbody tr')
          .count(),
      ).toBe(a.tools.length + 1);
    expect(await tables.nth(0).locator('thead th').count()).toBe(19); // name + 18 columns (open included)
    expect(await tables.nth(0).locator('tbody tr').first().locator('td').count()).toBe(19);

    const svg = page.locator('svg.timeline');
    expect(await svg.count()).toBe(1);
    expect(await svg.isVisible()).toBe(true);
    const box = await svg.boundingBox();
    expect(box!.width).toBeGreaterThan(500);
    expect(box!.height).toBeGreaterThan(100);
    expect(await svg.locator('.lane-label').count()).toBe(3);
    const count = (kind: string) => svg.locator(`.mark.m-${kind}`).count();
    expect(await count('request')).toBeGreaterThan(10);
    expect(await count('fault')).toBe(3);
    expect(await count('failure')).toBe(3);
    expect(await count('incident_open')).toBe(3);
    expect(await count('recovered')).toBe(1);
    expect(await count('unrecovered')).toBe(1);
    // recovered, unrecovered and still-open incidents are drawn as bands
    for (const band of ['recovered', 'unrecovered', 'open'])
      expect(await svg.locator(`.lane-group .band-${band}`).count(), band).toBe(1);
    expect(await svg.locator('.legend-item').count()).toBe(9);

    // The inline CSS applies (the CSP allows it): grade B is drawn green.
    // (A string: the test's TypeScript has no DOM lib.)
    const green = await page.evaluate("getComputedStyle(document.querySelector('.grade-B')).backgroundColor");
    expect(green).toBe('rgb(26, 127, 55)');
    expect(problems).toEqual([]);
  });

  it('a person sees the verdict first: grade and score, then findings, then tables; grade visible at 1280 px', async () => {
    const { page, problems } = await visit(sampleReport());
    await page.setViewportSize({ width: 1280, height: 800 });
    const box = async (selector: string) => (await page.locator(selector).first().boundingBox())!;
    const verdict = await box('.verdict .grade');
    expect(verdict.y + verdict.height).toBeLessThanOrEqual(800);
    expect(await page.locator('.verdict').textContent()).toMatch(/score \d+(\.\d)? \/ 100/);
    expect((await box('.verdict')).y).toBeLessThan((await box('ul.findings')).y);
    expect((await box('ul.findings')).y).toBeLessThan((await box('table')).y);
    // Every row's grade cell of the summary and of each agent's table fits in the first 1280 px.
    const tables = page.locator('table:not(.slo)');
    for (let t = 0; t < (await tables.count()); t++) {
      const heads = await tables.nth(t).locator('thead th').allTextContents();
      const col = heads.indexOf('grade');
      expect(col, heads.join('|')).toBeGreaterThan(0);
      const rows = tables.nth(t).locator('tbody tr');
      for (let r = 0; r < (await rows.count()); r++) {
        const cell = (await rows.nth(r).locator('td').nth(col).boundingBox())!;
        expect(cell.x + cell.width).toBeLessThanOrEqual(1280);
      }
    }
    expect(await page.evaluate('window.scrollX')).toBe(0);
    // A negative error budget reads as how many budgets were spent.
    expect(await page.locator('body').textContent()).toContain('overspent 3.5×');
    expect(await page.locator('body').textContent()).not.toContain('-250.0%');
    // The still-open incident bar has its own legend entry.
    const open = page.locator('svg.timeline .legend-item', { has: page.locator('.band-open') });
    expect(await open.count()).toBe(1);
    expect(await open.textContent()).toBe('incident still open');
    expect(problems).toEqual([]);
  });

  it('shows hostile names as text: no element, script or dialog comes from a name', async () => {
    const { page, problems } = await visit(sampleReport());
    expect(await page.locator('script').count()).toBe(0);
    expect(await page.locator('img').count()).toBe(0);
    expect(await page.locator('b').count()).toBe(0);
    const headings = await page.locator('h2').allTextContents();
    expect(headings.some((h) => h.includes(`Agent ${EVIL_AGENT}`))).toBe(true);
    const names = await page.locator('td.name').allTextContents();
    expect(names).toContain(EVIL_TOOL);
    expect(await page.locator('ul.findings li').count()).toBe(3);
    expect(problems).toEqual([]);
  });

  it('renders a report without traffic: empty tables and an empty timeline', async () => {
    const { page, problems } = await visit(emptyReport());
    expect(await page.locator('table').count()).toBe(2);
    expect(await page.locator('table').first().locator('tbody tr').count()).toBe(1);
    expect(await page.locator('svg.timeline .mark').count()).toBe(0);
    expect(await page.locator('svg.timeline text.empty').textContent()).toBe('No events recorded yet.');
    expect(await page.locator('p.muted').textContent()).toBe('No findings.');
    expect(problems).toEqual([]);
  });
});
