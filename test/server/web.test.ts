/**
 * The web page in headless Chromium (Debian's /usr/bin/chromium, driven by playwright-core), against a
 * real server on 127.0.0.1. Skipped, with a message, when Chromium is missing. The screenshot goes to the
 * temp folder, or to docs/img/web.png with UPDATE_SCREENSHOT=1.
 */
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RelikServer } from '../../src/server/index.js';
import type { RelikResult } from '../../src/types.js';
import { bundle, ensureBuilt, post, root, serverModule } from './helpers.js';

const CHROMIUM = '/usr/bin/chromium';
const hasChromium = existsSync(CHROMIUM);
if (!hasChromium) console.warn(`web.test.ts: SKIPPED: ${CHROMIUM} is missing (apt-get install -y chromium)`);

const SCREENSHOT = process.env.UPDATE_SCREENSHOT === '1' ? join(root, 'docs', 'img', 'web.png') : join(tmpdir(), 'relik-web.png');
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

describe.skipIf(!hasChromium)(`web page in headless Chromium${hasChromium ? '' : ` (SKIPPED: ${CHROMIUM} missing)`}`, () => {
  let server: RelikServer;

  beforeAll(async () => {
    await ensureBuilt();
    const { startServer } = await serverModule();
    server = await startServer({ bundle: bundle('tiny-cie'), port: 0, workers: 1 });
    await server.ready;
  }, 120_000);

  afterAll(async () => {
    await server?.close();
  });

  it('highlights mentions, lists entities and triplets, draws the graph, shows candidates on hover', async () => {
    const { chromium } = await import('playwright-core');
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS, timeout: 30_000 });
    try {
      const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
      const problems: string[] = [];
      page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
      page.on('console', (m) => {
        if (m.type() === 'error') problems.push(`console: ${m.text()}`);
      });
      page.on('request', (r) => {
        if (!r.url().startsWith(server.url)) problems.push(`external request: ${r.url()}`);
      });
      await page.goto(`${server.url}/`);
      await page.waitForSelector('.status.ready', { timeout: 15_000 });
      expect(await page.textContent('#status')).toContain('relik-tiny-cie');

      const text = await page.inputValue('#text');
      await page.click('#submit');
      await page.waitForSelector('#output:not([hidden])', { timeout: 15_000 });

      // What the page shows must match the API's answer for the same request.
      const api = await post<{ result: RelikResult }>(`${server.url}/annotate`, { text, options: { returnCandidates: true, task: 'cie' } });
      const { spans, triplets } = api.body.result;
      const nonOverlapping = [...spans].sort((a, b) => a.start - b.start).filter((s, i, all) => all.slice(0, i).every((p) => p.end <= s.start));
      expect(await page.locator('mark.mention').count()).toBe(nonOverlapping.length);
      expect(await page.locator('#spans tbody tr').count()).toBe(Math.max(1, spans.length));
      expect(await page.locator('#triplets li').count()).toBe(Math.max(1, triplets.length));
      const nodes = new Set(triplets.flatMap((t) => [t.subject, t.object])).size;
      expect(await page.locator('#graph circle').count()).toBe(nodes);
      expect(await page.locator('#graph path[marker-end]').count()).toBe(triplets.filter((t) => t.subject !== t.object).length);
      const firstMark = await page.locator('mark.mention').first().textContent();
      expect(firstMark).toContain(nonOverlapping[0]?.text);

      await page.hover('mark.mention >> nth=0');
      await page.waitForSelector('#tooltip:not([hidden])');
      const tooltip = (await page.textContent('#tooltip')) ?? '';
      expect(tooltip).toContain(nonOverlapping[0]?.text);
      expect(tooltip).toContain('Candidates:');
      expect(await page.locator('#tooltip li').count()).toBeGreaterThan(0);

      await page.screenshot({ path: SCREENSHOT, fullPage: true });
      expect(problems).toEqual([]);

      // "name lookup" off sends aliasTopK 0 and aliasPriorWeight 0.
      const sent: unknown[] = [];
      page.on('request', (r) => {
        if (r.method() === 'POST' && r.url().endsWith('/annotate')) sent.push(JSON.parse(r.postData() ?? '{}'));
      });
      await page.uncheck('#names');
      const answered = page.waitForResponse((r) => r.url().endsWith('/annotate'));
      await page.click('#submit');
      await answered;
      expect(sent.at(-1)).toMatchObject({ options: { aliasTopK: 0, aliasPriorWeight: 0 } });

      // A bad request shows the server's error message instead of results.
      await page.fill('#text', '   ');
      await page.click('#submit');
      await page.waitForSelector('#error:not([hidden])');
      expect(await page.textContent('#error')).toContain('EmptyText');
      expect(problems.filter((p) => !p.includes('status of 400'))).toEqual([]);
    } finally {
      await browser.close();
    }
  }, 90_000);
});
