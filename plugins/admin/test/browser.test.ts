import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import t from 'tap';
import { ADMIN_URL_TAG, serveRegistryConsole } from '../src/index.js';
import { startScenario, WRITE_TOKEN, READ_TOKEN, XSS, type Scenario } from './fixtures/scenario.js';

/**
 * The console in a real browser (Debian's chromium, driven by playwright-core): a running consumer's
 * console, a provider frozen and seen sub-healthy, a routing rule edited in the page and the traffic
 * moving, and markup in data shown as text. With TRELLIS_CONSOLE_SCREENSHOTS=<dir> it also saves the
 * screenshots docs/console.md shows.
 */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const shots = process.env.TRELLIS_CONSOLE_SCREENSHOTS;
if (shots) mkdirSync(shots, { recursive: true });
// Every wait is for an event; 60 s is only a guard that a loaded 2-core CI machine never reaches.
const WAIT = { timeout: 60_000 };

let scenario: Scenario;
let browser: Browser;
let page: Page;
const dialogs: string[] = [];
const pageErrors: string[] = [];

t.before(async () => {
  scenario = await startScenario();
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
  page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
  page.on('dialog', (dialog) => {
    dialogs.push(dialog.message());
    void dialog.dismiss();
  });
  page.on('pageerror', (error) => pageErrors.push(error.message));
});
t.teardown(async () => {
  await browser?.close();
  await scenario?.close();
});

const endpointRow = (id: string) => `[data-target="c1"] tr[data-endpoint="${id}"]`;

/** Waits (in the page, re-checked on every frame) until the number in `selector`'s data-value is within [low, high]. */
async function waitForValue(selector: string, low: number, high: number): Promise<void> {
  // A function, not a string: the console's CSP forbids eval, and playwright calls functions without it.
  type Dom = { document: { querySelector(s: string): { getAttribute(name: string): string | null } | null } };
  await page.waitForFunction(([s, lo, hi]) => {
    const text = (globalThis as unknown as Dom).document.querySelector(s as string)?.getAttribute('data-value');
    const value = text === null || text === undefined || text === '' ? NaN : Number(text);
    return value >= (lo as number) && value <= (hi as number);
  }, [selector, low, high] as const, WAIT);
}

t.test('the console of a running consumer shows its providers, health and charts', async (t) => {
  await page.goto(`${scenario.console.url}#token=${WRITE_TOKEN}`);
  for (const provider of scenario.providers) await page.waitForSelector(endpointRow(provider.id), WAIT);
  t.notMatch(page.url(), WRITE_TOKEN, 'the token leaves the address bar once read');
  t.equal(await page.textContent(`${endpointRow(scenario.providers[0]!.id)} [data-field="health"]`), 'healthy');
  t.match(await page.textContent('[data-testid="overview"]'), /kernel 0\.1\.0/);
  t.match(await page.textContent('[data-testid="overview"]'), /accessread and write/, "the write token's access");
  await page.waitForSelector('[data-method="Echo"] [data-chart="Echo-rate"] canvas', WAIT);
  t.pass('the Echo method has its live chart');
  await page.waitForSelector('[data-testid="traces"] tr[data-trace]', WAIT);
  t.pass('recent sampled calls are listed');
  if (shots) await page.screenshot({ path: join(shots, 'console-overview.png'), fullPage: true });
});

t.test('markup in metadata and in a rule name is shown as text, and no script runs', async (t) => {
  const tags = await page.textContent(`${endpointRow(scenario.providers[1]!.id)} [data-field="tags"]`);
  t.match(tags, XSS, 'the tag value is shown as typed');
  await page.fill('[data-testid="rules-text"]', `param:\n  - name: "${XSS}"\n    trget: { lane: b }\n`);
  await page.waitForSelector('[data-testid="rules-validation"] .issues li', WAIT);
  t.match(await page.textContent('[data-testid="rules-validation"]'), XSS, 'the rule name is shown as typed in the issue');
  t.match(await page.textContent('[data-testid="rules-diff"]'), XSS, 'and in the diff');
  t.equal(await page.locator('img').count(), 0, 'no element was made from the markup');
  t.same(dialogs, [], 'no alert ran');
  t.same(pageErrors, []);
});

t.test('a routing rule edited in the page moves the traffic', async (t) => {
  const b = scenario.providers[1]!;
  const shareOfB = () => page.getAttribute(`${endpointRow(b.id)} [data-field="observed"]`, 'data-value');
  const share = `${endpointRow(b.id)} [data-field="observed"]`;
  // This runs before the freeze test: after a freeze LALB may keep nearly all traffic on lane b for
  // longer than any wait here (seen in a loaded CI run), and the rule must be seen to *move* it.
  await waitForValue(share, 0.1, 0.9);
  t.pass(`before: lane b gets ${Number(await shareOfB()).toFixed(2)} of the attempts`);
  await page.fill('[data-testid="rules-text"]', 'version: console-test-1\nparam:\n  - name: all-to-lane-b\n    target: { lane: b }\n');
  await page.waitForSelector('[data-testid="rules-validation"] .ok', WAIT);
  t.match(await page.textContent('[data-testid="rules-diff"]'), '+   - name: all-to-lane-b');
  if (shots) await page.screenshot({ path: join(shots, 'console-rules.png'), fullPage: true });
  await page.click('[data-testid="rules-save"]');
  await page.waitForSelector('[data-testid="rules-status"]:has-text("saved: version console-test-1")', WAIT);
  await waitForValue(share, 0.99, 1);
  t.pass(`after: lane b gets ${Number(await shareOfB()).toFixed(2)} of the attempts`);
  const stored = await new Promise<string | undefined>((resolve) => {
    const watch = scenario.registry.watchConfig({ group: 'default', name: 'trellis.test.EchoService' }, 'routes', (text) => {
      resolve(text);
      queueMicrotask(() => watch.dispose());
    });
  });
  t.match(stored, 'all-to-lane-b', 'written through the registry');
  t.same(pageErrors, []);
});

t.test('a frozen provider turns sub-healthy within the health plugin\'s window', async (t) => {
  const frozen = scenario.providers[0]!;
  frozen.proxy.setMode({ kind: 'blackhole' });
  const started = Date.now();
  // Heartbeats every 200 ms with a 1 s timeout, sub-healthy after 2 failures: about 2.5 s.
  await page.waitForSelector(`${endpointRow(frozen.id)} [data-field="health"] .state-subhealthy`, WAIT);
  t.pass(`shown sub-healthy ${Date.now() - started} ms after the freeze`);
  if (shots) await page.screenshot({ path: join(shots, 'console-subhealthy.png'), fullPage: true });
  frozen.proxy.setMode({ kind: 'pass' });
  await page.waitForSelector(`${endpointRow(frozen.id)} [data-field="health"] .state-healthy`, WAIT);
  t.pass('and healthy again once it answers');
});

t.test("the breaker's own document is edited the same way, checked with the breaker's schema", async (t) => {
  const editor = '[data-rules="c1"]';
  await page.selectOption(`${editor} [data-testid="rules-document"]`, 'breaker');
  await page.waitForSelector(`${editor}:has-text("no document in the registry yet")`, WAIT);
  await page.fill(`${editor} [data-testid="rules-text"]`, '{ "errorRatio": 7 }');
  await page.waitForSelector(`${editor} [data-testid="rules-validation"] .issues li`, WAIT);
  t.match(await page.textContent(`${editor} [data-testid="rules-validation"]`), 'field "errorRatio": must be ≤ 1, got 7', 'validated as typed');
  await page.fill(`${editor} [data-testid="rules-text"]`, '{ "errorRatio": 0.6 }');
  await page.waitForSelector(`${editor} [data-testid="rules-validation"] .ok`, WAIT);
  await page.click(`${editor} [data-testid="rules-save"]`);
  await page.waitForSelector(`${editor} [data-testid="rules-status"]:has-text("saved: version sha256:")`, WAIT);
  t.pass('saved through the registry');
  t.same(pageErrors, []);
});

t.test('with the read token the page is read-only; without a token it asks for one', async (t) => {
  const reader = await browser.newPage();
  await reader.goto(`${scenario.console.url}#token=${READ_TOKEN}`);
  await reader.waitForSelector('[data-testid="rules-text"]', WAIT);
  t.equal(await reader.locator('[data-testid="rules-save"]').count(), 0, 'no Save button');
  t.match(await reader.textContent('[data-testid="overview"]'), /accessread only \(this token cannot write\)/, 'a read token at a console that takes writes');
  await reader.close();
  const stranger = await browser.newPage();
  await stranger.goto(scenario.console.url!);
  await stranger.waitForSelector('[data-testid="token"]', WAIT);
  t.pass('the login form is shown');
  await stranger.close();
});

t.test('the registry-wide console shows a service named like markup as text and links only http(s) consoles', async (t) => {
  const registryConsole = await serveRegistryConsole({
    registry: 'etcd://127.0.0.1:2379',
    token: READ_TOKEN,
    services: async () => [
      { group: 'default', name: XSS, providers: [{ host: '127.0.0.1', port: 1, version: '1.0.0', tags: { [ADMIN_URL_TAG]: 'javascript:alert(1)' } }], documents: [XSS] },
      { group: 'default', name: 'demo.Greeter', providers: [{ host: '127.0.0.1', port: 2, version: '1.0.0', tags: { [ADMIN_URL_TAG]: 'http://127.0.0.1:9/' } }] },
    ],
  });
  t.teardown(() => registryConsole.close());
  const viewer = await browser.newPage();
  const seen: string[] = [];
  viewer.on('dialog', (dialog) => {
    seen.push(dialog.message());
    void dialog.dismiss();
  });
  await viewer.goto(`${registryConsole.url}#token=${READ_TOKEN}`);
  await viewer.waitForSelector('[data-service="default/demo.Greeter"]', WAIT);
  t.match(await viewer.textContent(`[data-service="default/${XSS}"] h2`), XSS, 'the service name is shown as typed');
  t.equal(await viewer.locator('img').count(), 0);
  t.same(await viewer.locator('a[href]').evaluateAll((links) => links.map((a) => a.getAttribute('href'))), ['http://127.0.0.1:9/'], 'a javascript: URL is not linked');
  if (shots) await viewer.screenshot({ path: join(shots, 'console-registry.png'), fullPage: true });
  t.same(seen, []);
  await viewer.close();
});
