// Drives Debian's chromium over the HTML report with playwright-core and prints what it saw as
// one JSON object; tests/report_browser.rs runs it and makes the assertions.
//
//   node report_browser.mjs REPORT.html HOSTILE.html SCREENSHOT.png
//
// Why playwright-core rather than chromium --dump-dom/--screenshot: the test has to click a cell,
// toggle a filter and watch every request the page makes, which a one-shot dump cannot do.
// playwright-core ships no browser of its own (nothing is downloaded at install); it drives
// /usr/bin/chromium over the DevTools protocol.
import { chromium } from 'playwright-core';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const [report, hostile, screenshot] = process.argv.slice(2);
if (!report || !hostile || !screenshot) {
  console.error('usage: node report_browser.mjs REPORT.html HOSTILE.html SCREENSHOT.png');
  process.exit(2);
}
const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
const userDataDir = mkdtempSync(join(tmpdir(), 'tlsaudit-chromium-'));
const out = { requests: [], console_errors: [], page_errors: [], csp_violations: [], dialogs: [] };

const context = await chromium.launchPersistentContext(userDataDir, {
  executablePath,
  headless: true,
  args: [
    '--no-sandbox',
    '--disable-gpu',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--disable-quic',
  ],
  viewport: { width: 1100, height: 1250 },
  deviceScaleFactor: 1,
});

try {
  // Every request any page of this browser makes, whatever its scheme.
  context.on('request', (r) => out.requests.push(r.url()));
  // A CSP violation means the page tried to load or run something it does not ship.
  await context.addInitScript(() => {
    window.__csp = [];
    document.addEventListener('securitypolicyviolation', (e) =>
      window.__csp.push(`${e.violatedDirective} ${e.blockedURI}`));
  });
  const watch = (page) => {
    page.on('console', (m) => { if (m.type() === 'error') out.console_errors.push(m.text()); });
    page.on('pageerror', (e) => out.page_errors.push(String(e)));
    page.on('dialog', (d) => { out.dialogs.push(d.message()); d.dismiss(); });
  };

  const url = pathToFileURL(report).href;
  out.report_url = url;
  const page = context.pages()[0] || (await context.newPage());
  watch(page);
  await page.goto(url, { waitUntil: 'load' });

  // The matrix as the DOM has it.
  out.cells = await page.$$eval('td.cell', (tds) => tds.map((td) => ({
    identity: td.dataset.identity,
    endpoint: td.dataset.endpoint,
    verdict: td.dataset.verdict,
    symbol: td.querySelector('a').textContent.trim(),
    href: td.querySelector('a').getAttribute('href'),
  })));
  out.details = await page.$$eval('article.detail', (as) => as.map((a) => a.id));
  out.visible_details_at_load = await page.$$eval('article.detail', (as) =>
    as.filter((a) => getComputedStyle(a).display !== 'none').map((a) => a.id));
  out.screenshot = screenshot;
  await page.screenshot({ path: screenshot, fullPage: false });

  // A click on the blocked cell shows its detail.
  const blocked = page.locator('td.cell[data-verdict="blocked"] a').first();
  out.blocked_href = await blocked.getAttribute('href');
  await blocked.click();
  out.hash_after_click = await page.evaluate(() => location.hash);
  const target = page.locator(out.blocked_href);
  out.blocked_detail_visible = await target.isVisible();
  out.blocked_detail_text = await target.innerText();
  out.visible_details_after_click = await page.$$eval('article.detail', (as) =>
    as.filter((a) => getComputedStyle(a).display !== 'none').map((a) => a.id));

  // The same detail straight from its anchor, in a new page.
  const direct = await context.newPage();
  watch(direct);
  await direct.goto(url + out.blocked_href, { waitUntil: 'load' });
  out.anchor_detail_visible = await direct.locator(out.blocked_href).isVisible();
  await direct.close();

  // Filters.
  const visibleRows = () => page.$$eval('tr.endpoint', (rs) =>
    rs.filter((r) => r.offsetParent !== null).map((r) => r.dataset.endpoint));
  out.filters_shown = await page.locator('#filters').isVisible();
  out.rows_all = await visibleRows();
  await page.locator('#failing-only').check();
  out.rows_failing_only = await visibleRows();
  await page.locator('#failing-only').uncheck();
  await page.locator('#component').selectOption('tikv');
  out.rows_tikv = await visibleRows();
  out.findings_visible_tikv = await page.$$eval('article.finding', (as) =>
    as.filter((a) => a.offsetParent !== null).map((a) => a.dataset.component));
  await page.locator('#failing-only').check();
  out.rows_tikv_failing = await visibleRows();
  out.csp_violations.push(...(await page.evaluate(() => window.__csp)));

  // The hostile page: a certificate subject and a finding carrying markup, quotes and control
  // characters. Nothing of it may run; it must read as text.
  const h = await context.newPage();
  watch(h);
  await h.goto(pathToFileURL(hostile).href, { waitUntil: 'load' });
  out.hostile = await h.evaluate(() => ({
    pwned: window.__pwned === true,
    scripts: document.scripts.length,
    imgs: document.images.length,
    title: document.title,
    subject: Array.from(document.querySelectorAll('article.detail dd'))
      .map((d) => d.textContent)
      .find((t) => t.includes('script')) || null,
    finding: (document.querySelector('article.finding h3') || {}).textContent || null,
  }));
  out.csp_violations.push(...(await h.evaluate(() => window.__csp)));
  await h.close();
} finally {
  await context.close();
  rmSync(userDataDir, { recursive: true, force: true });
}
process.stdout.write(JSON.stringify(out) + '\n');
