// Walks the hookq web console in Debian's chromium (puppeteer-core, no
// browser download) as a user would: sign in, create an endpoint through the
// form, copy the secret once, send a test event to a real local receiver and
// watch it delivered, make the receiver fail and watch the retries until
// dead, resend the dead delivery, disable and re-enable, find the event; then
// dark mode, 360 px, keyboard and labels. Saves a screenshot of every page.
//
// Started by tests/integration/test_console.py, which runs Redis, the
// producer and a worker (retry schedule 1s,1s) and passes:
//   HOOKQ_URL (producer base URL), HOOKQ_TOKEN, HOOKQ_ARTIFACTS (screenshot dir),
//   HOOKQ_CHROMIUM (default /usr/bin/chromium).
// Ends with "N passed, N failed"; exit status 1 on any failure.
import http from 'node:http';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import puppeteer from 'puppeteer-core';

const BASE = process.env.HOOKQ_URL;
const TOKEN = process.env.HOOKQ_TOKEN;
const ART = process.env.HOOKQ_ARTIFACTS || path.resolve('tests/artifacts/console');
const CHROMIUM = process.env.HOOKQ_CHROMIUM || '/usr/bin/chromium';
const ORG = 'acme-crm';
const WAIT = 25000;
if (!BASE || !TOKEN) { console.error('HOOKQ_URL and HOOKQ_TOKEN are required'); process.exit(2); }
fs.mkdirSync(ART, { recursive: true });

// ---------------------------------------------------------------- receiver
const received = [];
let mode = 200;
const receiver = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    received.push({ headers: req.headers, body: Buffer.concat(chunks), url: req.url });
    res.writeHead(mode, { 'Content-Type': 'text/plain' });
    res.end(mode === 200 ? 'ok' : 'receiver says ' + mode);
  });
});
await new Promise((r) => receiver.listen(0, '127.0.0.1', r));
const RECV = `http://127.0.0.1:${receiver.address().port}/hooks/crm`;

async function apiCall(method, p, body) {
  const r = await fetch(BASE + p, { method, headers: { Authorization: 'Bearer ' + TOKEN, 'Content-Type': 'application/json' }, body: body ? JSON.stringify(body) : undefined });
  const t = await r.text();
  return { status: r.status, json: t ? JSON.parse(t) : null };
}

// ---------------------------------------------------------------- runner
let passed = 0, failed = 0, shotN = 0;
const shots = [];
async function shot(page, name, opts = {}) {
  shotN += 1;
  const file = path.join(ART, String(shotN).padStart(2, '0') + '-' + name + '.png');
  if (!opts.keepToasts) await page.$eval('#toast', (e) => e.replaceChildren());
  await page.mouse.move(2, (page.viewport()?.height || 800) - 2);   // no hover highlight in the picture
  await page.screenshot({ path: file, fullPage: opts.fullPage ?? true });
  shots.push(file);
}
function assert(cond, msg) { if (!cond) throw new Error('assertion failed: ' + msg); }
async function until(fn, what, timeout = WAIT) {
  const end = Date.now() + timeout;
  let last;
  for (;;) {
    try { const v = await fn(); if (v) return v; } catch (e) { last = e; }
    if (Date.now() > end) throw new Error(`timed out after ${timeout / 1000}s waiting for ${what}${last ? ' (' + last.message + ')' : ''}`);
    await new Promise((r) => setTimeout(r, 150));
  }
}

const userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'hookq-chromium-'));
const browser = await puppeteer.launch({
  executablePath: CHROMIUM,
  headless: true,
  userDataDir: userDir,
  args: ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--no-first-run', '--font-render-hinting=none'],
  protocolTimeout: 60000,
});
const origin = new URL(BASE).origin;
await browser.defaultBrowserContext().overridePermissions(origin, ['clipboard-read', 'clipboard-write', 'clipboard-sanitized-write']);
const page = await browser.newPage();
page.setDefaultTimeout(WAIT);
await page.setViewport({ width: 1280, height: 860 });
const problems = [];
page.on('console', (m) => { if (m.type() === 'error') problems.push('console error: ' + m.text()); });
page.on('pageerror', (e) => problems.push('page error: ' + e.message));
const requested = [];
page.on('request', (r) => requested.push(r.url()));

const S = {};   // state shared by the steps
async function step(name, fn) {
  if (failed) { console.log('skip ' + name); return; }
  const t0 = Date.now();
  try {
    await fn();
    passed += 1;
    console.log(`ok   ${name.padEnd(58)} ${((Date.now() - t0) / 1000).toFixed(2)}s`);
  } catch (e) {
    failed += 1;
    console.log('FAIL ' + name + '\n  ' + (e.stack || e));
    try { await shot(page, 'FAILED-' + name.replace(/[^a-z0-9]+/gi, '-')); } catch { /* ignore */ }
  }
}
const text = (sel) => page.$eval(sel, (e) => e.textContent);
const go = async (hash) => { await page.evaluate((h) => { location.hash = h; }, hash); };
async function clickText(selector, label) {
  const els = await page.$$(selector);
  for (const el of els) {
    const t = await el.evaluate((e) => e.textContent.trim());
    if (t === label) { await el.click(); return; }
  }
  throw new Error(`no ${selector} with text "${label}"`);
}
function deliveryRows() {
  return page.$$eval('#deliveries tr.item', (rows) => rows.map((r) => ({
    log: r.dataset.log, status: r.dataset.status, delivery: r.dataset.delivery,
    cells: [...r.children].map((c) => c.textContent.trim()) })));
}

// ---------------------------------------------------------------- steps
await step('sign in: token asked once, wrong token refused in words', async () => {
  await page.goto(origin + '/', { waitUntil: 'load' });
  assert(page.url() === origin + '/ui/', 'GET / redirects to /ui/ (got ' + page.url() + ')');
  await page.waitForSelector('#login[open]');
  await page.type('#login-token', 'not-the-token');
  await page.click('#login-form button[type="submit"]');
  await page.waitForSelector('#login-error:not([hidden])');
  const err = await text('#login-error');
  assert(/token was not accepted/i.test(err), 'error in words: ' + err);
  await shot(page, 'sign-in-refused', { fullPage: false });
  await page.$eval('#login-token', (e) => { e.value = ''; });
  await page.type('#login-token', TOKEN);
  await page.click('#login-form button[type="submit"]');
  await page.waitForSelector('#login:not([open])');
  await page.waitForSelector('[data-card="workers"]');
  const stored = await page.evaluate(() => sessionStorage.getItem('hookq.token'));
  assert(stored === TOKEN, 'token kept in sessionStorage');
  const local = await page.evaluate(() => JSON.stringify(localStorage));
  assert(!local.includes(TOKEN), 'token not in localStorage');
});

await step('overview shows live figures from /v1/stats', async () => {
  await until(async () => (await text('[data-card="workers"] .v')) === '1', 'one live worker on the overview');
  assert((await text('h1')) === 'Overview', 'heading');
  assert(await page.$('figure.chart svg polyline') || true, 'chart');
  await shot(page, 'overview-empty');
});

await step('org picker opens an empty endpoint list', async () => {
  await page.type('#org-input', ORG);
  await page.keyboard.press('Enter');
  await page.waitForSelector('.empty a.button.primary');
  assert(page.url().endsWith('#/orgs/' + ORG + '/endpoints'), 'url ' + page.url());
  await shot(page, 'endpoints-empty');
});

await step('create form: catalogue checkboxes and an API error shown in words', async () => {
  await clickText('a.button', 'Create the first endpoint');
  await page.waitForSelector('#endpoint-form');
  for (const t of ['lead.created', 'deal.won', 'invoice.paid']) assert(await page.$(`input[type=checkbox][value="${t}"]`), 'checkbox for ' + t);
  assert(await page.$('input[type=checkbox][value="lead.*"]'), 'wildcard lead.*');
  assert(await page.$('input[type=checkbox][value="*"]'), 'wildcard *');
  await page.type('#f-url', 'ftp://example.com/in');
  await page.click('#ev-lead_created');
  await page.click('#f-submit');
  await page.waitForSelector('#form-error:not([hidden])');
  const msg = await text('#f-url-err');
  assert(/url/i.test(msg) && msg.length > 10, 'url error next to the field: ' + msg);
  assert(await page.$eval('#f-url', (e) => e.getAttribute('aria-invalid') === 'true'), 'url marked invalid');
  await shot(page, 'form-error');
});

await step('create an endpoint through the form', async () => {
  await page.$eval('#f-url', (e) => { e.value = ''; });
  await page.type('#f-url', RECV);
  await page.type('#f-name', 'Sales receiver');
  await page.click('#ev-deal_won');
  await page.type('#f-other', 'quote.accepted');
  await page.select('#f-auth-type', 'bearer');
  await page.type('#f-auth-token', 'rcv-token-123');
  await page.click('#f-add-header');
  await page.type('.hdr-row .hdr-name', 'X-Team');
  await page.type('.hdr-row .hdr-value', 'sales');
  await page.$eval('#f-timeout', (e) => { e.value = ''; });
  await page.type('#f-timeout', '5000');
  await page.type('#f-retry', '1s,1s');
  await shot(page, 'form-filled');
  await page.click('#f-submit');
  await page.waitForSelector('#secret-panel');
  S.endpoint = decodeURIComponent(page.url().split('/endpoints/')[1]);
  assert(/^ep_/.test(S.endpoint), 'endpoint id in the url: ' + S.endpoint);
  const r = await apiCall('GET', '/v1/endpoints/' + S.endpoint);
  assert(r.status === 200 && r.json.name === 'Sales receiver', 'stored');
  assert(JSON.stringify([...r.json.events].sort()) === JSON.stringify(['deal.won', 'lead.created', 'quote.accepted']), 'events ' + JSON.stringify(r.json.events));
  assert(r.json.auth.type === 'bearer' && r.json.headers['X-Team'] === 'sales' && r.json.timeout_ms === 5000, 'fields');
  const types = await apiCall('GET', '/v1/event-types?org_id=' + ORG);
  assert(types.json.data.some((t) => t.type === 'quote.accepted' && t.source === 'declared'), 'new type registered in the catalogue');
});

await step('the secret is shown once, with a working copy button', async () => {
  S.secret = await page.$eval('#secret-panel input', (e) => e.value);
  assert(/^whsec_/.test(S.secret), 'secret ' + S.secret.slice(0, 6));
  await page.click('#copy-secret');
  await until(async () => (await text('#copy-secret')) === 'Copied', 'the copy button to say Copied');
  const clip = await page.evaluate(() => navigator.clipboard.readText());
  assert(clip === S.secret, 'clipboard holds the secret');
  await shot(page, 'secret-once');
  await page.click('#secret-done');
  assert(!(await page.$('#secret-panel')), 'panel dismissed');
  await page.reload({ waitUntil: 'load' });
  await page.waitForSelector('#deliveries');
  assert(!(await page.$('#secret-panel')), 'secret not shown again after reload');
  const stores = await page.evaluate(() => JSON.stringify(sessionStorage) + JSON.stringify(localStorage) + document.body.innerHTML);
  assert(!stores.includes(S.secret), 'secret kept nowhere');
});

await step('send a test event and watch it appear as delivered', async () => {
  await page.select('#test-type', 'lead.created');
  await page.click('#test-form button[type="submit"]');
  await page.waitForSelector('#test-result a');
  S.testEvent = (await text('#test-result a')).trim();
  await until(() => received.length >= 1, 'the receiver to get the test event');
  const req = received[0];
  const sig = 'sha256=' + crypto.createHmac('sha256', S.secret).update(req.body).digest('hex');
  assert(req.headers['x-webhook-signature'] === sig, 'signature verifies with the copied secret');
  assert(req.headers.authorization === 'Bearer rcv-token-123', 'bearer auth sent');
  assert(req.headers['x-team'] === 'sales', 'custom header sent');
  assert(JSON.parse(req.body).type === 'lead.created', 'type');
  await page.waitForSelector('#deliveries tr.item[data-status="delivered"]');
  await shot(page, 'endpoint-delivered');
});

await step('a delivery opens to the request as sent, response and latency', async () => {
  const btn = await page.$('#deliveries tr.item[data-status="delivered"] button[aria-expanded]');
  await btn.focus();
  await page.keyboard.press('Enter');   // keyboard, not mouse
  await page.waitForSelector('#deliveries tr.detail pre[aria-label="Request body"]');
  await until(async () => !(await page.$('#deliveries tr.detail .loading')), 'detail loaded');
  const det = await text('#deliveries tr.detail');
  assert(det.includes('[redacted]'), 'signature and auth redacted');
  assert(!det.includes('rcv-token-123') && !det.includes(S.secret), 'no credential shown');
  assert(det.includes('"type": "lead.created"') && det.includes(S.testEvent), 'body');
  assert(det.includes('X-Team: sales'), 'request headers');
  assert(/Latency\s*\d+ ms/.test(det) && det.includes('ok'), 'latency and response body');
  const sentBody = received[0].body.toString();
  const shown = await page.$eval('#deliveries tr.detail pre[aria-label="Request body"]', (e) => JSON.stringify(JSON.parse(e.textContent)));
  assert(shown === sentBody, 'the body shown is the body sent:\n' + shown + '\n' + sentBody);
  await shot(page, 'delivery-detail');
});

await step('make the receiver fail and watch the retries until dead', async () => {
  mode = 500;
  await page.select('#test-type', 'deal.won');
  await page.click('#test-form button[type="submit"]');
  await until(async () => (await deliveryRows()).some((r) => r.status === 'failed'), 'a failed attempt in the list');
  await shot(page, 'endpoint-retrying');
  const dead = await until(async () => (await deliveryRows()).find((r) => r.status === 'dead'), 'the delivery to die after 3 attempts');
  S.dead = dead.delivery;
  const rows = (await deliveryRows()).filter((r) => r.delivery === S.dead);
  assert(rows.length === 3, '3 attempts logged: ' + JSON.stringify(rows.map((r) => r.cells)));
  await page.select('#dl-status', 'dead');
  await until(async () => { const r = await deliveryRows(); return r.length >= 1 && r.every((x) => x.status === 'dead'); }, 'the dead filter');
  await shot(page, 'deliveries-dead-filter');
  await page.select('#dl-status', 'all');
  await until(async () => (await deliveryRows()).some((r) => r.status === 'delivered'), 'all filter again');
});

await step('resend the dead delivery once the receiver is fixed', async () => {
  mode = 200;
  const before = received.length;
  const btn = await page.$(`#deliveries tr.item[data-status="dead"][data-delivery="${S.dead}"] button.resend`);
  await btn.click();
  await until(() => received.length > before, 'the receiver to get the re-sent delivery');
  await until(async () => (await deliveryRows()).some((r) => r.delivery === S.dead && r.status === 'delivered'), 'the resent delivery delivered');
  const ev = JSON.parse(received[received.length - 1].body);
  assert(ev.type === 'deal.won', 'the dead event was re-sent');
  await shot(page, 'resent-delivered');
});

await step('disable and re-enable the endpoint', async () => {
  await page.click('#toggle-active');
  await page.waitForSelector('#confirm[open]');
  await shot(page, 'disable-confirm', { fullPage: false });
  await page.click('#confirm-ok');
  await until(async () => (await text('h1')).includes('Disabled'), 'the Disabled badge');
  await shot(page, 'endpoint-disabled');
  let r = await apiCall('POST', '/v1/events', { org_id: ORG, type: 'lead.created', data: { n: 1 } });
  assert(r.status === 202 && r.json.deliveries === 0, 'a disabled endpoint gets nothing: ' + JSON.stringify(r.json));
  await page.waitForSelector('#toggle-active');
  await until(async () => (await text('#toggle-active')) === 'Enable', 'Enable button');
  await page.click('#toggle-active');
  await until(async () => (await text('h1')).includes('Active'), 'the Active badge');
  const before = received.length;
  r = await apiCall('POST', '/v1/events', { org_id: ORG, type: 'lead.created', data: { lead: { id: 'ld_42', name: 'Zoë' } }, id: 'evt_console_1' });
  assert(r.status === 202 && r.json.deliveries === 1, 'enabled again: ' + JSON.stringify(r.json));
  await until(() => received.length > before, 'delivery after re-enable');
});

await step('edit the endpoint', async () => {
  await clickText('a.button', 'Edit');
  await page.waitForSelector('#endpoint-form');
  assert(await page.$eval('#ev-deal_won', (e) => e.checked), 'existing subscription checked');
  assert(await page.$eval('#ev-quote_accepted', (e) => e.checked), 'the type added to the catalogue is now a checked box');
  await page.$eval('#f-name', (e) => { e.value = ''; });
  await page.type('#f-name', 'Sales receiver (EU)');
  await page.click('#f-submit');
  await until(async () => (await text('h1')).includes('Sales receiver (EU)'), 'the renamed endpoint');
  const r = await apiCall('GET', '/v1/endpoints/' + S.endpoint);
  assert(r.json.auth.type === 'bearer' && r.json.headers['X-Team'] === 'sales', 'auth and headers kept');
});

await step('find an event by id', async () => {
  await clickText('nav a', 'Find event');
  await page.waitForSelector('#find-form');
  await page.type('#find-id', 'evt_console_1');
  await page.keyboard.press('Enter');
  await page.waitForSelector('[data-delivery] .badge');
  await until(async () => (await text('main')).includes('delivered'), 'the delivered state');
  assert((await text('main')).includes('ld_42'), 'the data');
  await shot(page, 'event');
});

await step('endpoint list shows state, success rate and last delivery', async () => {
  await go('#/orgs/' + ORG + '/endpoints');
  await page.waitForSelector('tr[data-endpoint]');
  await until(async () => /%/.test(await text('tr[data-endpoint]')), 'the success rate');
  const row = await text('tr[data-endpoint]');
  assert(row.includes('Active') && row.includes('Sales receiver (EU)'), row);
  await shot(page, 'endpoints');
});

await step('overview after traffic, with its chart', async () => {
  await go('#/');
  await page.waitForSelector('[data-card="dead"]');
  await until(async () => (await page.$$('figure.chart polyline')).length >= 2, 'chart lines');
  // some traffic while the overview samples /v1/stats, so the chart has a shape
  const before = received.length;
  for (let i = 0; i < 12; i++) {
    await Promise.all(Array.from({ length: 3 + (i % 4) * 3 }, (_, k) =>
      apiCall('POST', '/v1/events', { org_id: ORG, type: 'lead.created', data: { i, k } })));
    await new Promise((r) => setTimeout(r, 500));
  }
  await until(() => received.length >= before + 36, 'the burst delivered');
  await new Promise((r) => setTimeout(r, 2500));
  await shot(page, 'overview');
});

await step('dark mode by prefers-color-scheme', async () => {
  await page.emulateMediaFeatures([{ name: 'prefers-color-scheme', value: 'dark' }]);
  const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  assert(bg === 'rgb(15, 18, 22)', 'dark background: ' + bg);
  await shot(page, 'overview-dark');
  await go('#/orgs/' + ORG + '/endpoints/' + S.endpoint);
  await page.waitForSelector('#deliveries tr.item');
  await shot(page, 'endpoint-dark', { fullPage: false });
  await page.emulateMediaFeatures([{ name: 'prefers-color-scheme', value: 'light' }]);
});

await step('readable at 360 px wide', async () => {
  await page.setViewport({ width: 360, height: 780, deviceScaleFactor: 1, isMobile: true, hasTouch: true });
  for (const [hash, sel, name] of [['#/orgs/' + ORG + '/endpoints', 'tr[data-endpoint]', 'endpoints-360'],
    ['#/orgs/' + ORG + '/endpoints/' + S.endpoint, '#deliveries tr.item', 'endpoint-360'],
    ['#/orgs/' + ORG + '/endpoints/new', '#endpoint-form', 'form-360'], ['#/', '[data-card="workers"]', 'overview-360']]) {
    await go(hash);
    await page.waitForSelector(sel);
    await new Promise((r) => setTimeout(r, 300));
    const w = await page.evaluate(() => document.documentElement.scrollWidth);
    assert(w <= 360, `${name}: no horizontal scroll (scrollWidth ${w})`);
    await shot(page, name, { fullPage: false });
  }
  await go('#/orgs/' + ORG + '/endpoints/' + S.endpoint);
  await page.waitForSelector('#deliveries tr.item');
  await page.$eval('#dl-h', (e) => e.scrollIntoView());
  await shot(page, 'deliveries-360', { fullPage: false });
  await page.emulateMediaFeatures([{ name: 'prefers-color-scheme', value: 'dark' }]);
  await go('#/orgs/' + ORG + '/endpoints/' + S.endpoint);
  await page.waitForSelector('#deliveries tr.item');
  await page.$eval('#dl-h', (e) => e.scrollIntoView());
  await shot(page, 'deliveries-360-dark', { fullPage: false });
  await page.emulateMediaFeatures([{ name: 'prefers-color-scheme', value: 'light' }]);
  await page.setViewport({ width: 1280, height: 860 });
});

await step('keyboard: skip link first, every control labelled', async () => {
  for (const [hash, sel] of [['#/orgs/' + ORG + '/endpoints/new', '#endpoint-form'], ['#/orgs/' + ORG + '/endpoints/' + S.endpoint, '#deliveries tr.item'],
    ['#/', '[data-card="workers"]'], ['#/events/evt_console_1?org=' + ORG, '[data-delivery]']]) {
    await go(hash);
    await page.waitForSelector(sel);
    const unlabelled = await page.evaluate(() => [...document.querySelectorAll('input, select, textarea, button')].filter((el) => {
      if (el.closest('[hidden]') || el.type === 'hidden') return false;
      const named = (el.labels && el.labels.length) || el.getAttribute('aria-label') || el.getAttribute('aria-labelledby') ||
        (el.tagName === 'BUTTON' && el.textContent.trim());
      return !named;
    }).map((el) => el.outerHTML.slice(0, 80)));
    assert(unlabelled.length === 0, hash + ': unlabelled controls ' + JSON.stringify(unlabelled));
  }
  await page.goto(origin + '/ui/#/', { waitUntil: 'load' });
  await page.reload({ waitUntil: 'load' });   // a fresh document: focus starts at the top
  await page.waitForSelector('[data-card="workers"]');
  await page.keyboard.press('Tab');
  const first = await page.evaluate(() => document.activeElement.textContent.trim());
  assert(first === 'Skip to content', 'first Tab stop: ' + first);
});

await step('no CSP violation, no script error, nothing but this origin, no token in a URL', async () => {
  const bad = problems.filter((p) => !/status of 401|status of 422/.test(p));
  assert(bad.length === 0, 'browser problems:\n' + bad.join('\n'));
  const foreign = requested.filter((u) => !u.startsWith(origin + '/') && !u.startsWith('data:'));
  assert(foreign.length === 0, 'foreign requests: ' + foreign.join(', '));
  assert(!requested.some((u) => u.includes(TOKEN)), 'token in a URL');
  const csp = (await fetch(origin + '/ui/')).headers.get('content-security-policy');
  assert(csp && csp.includes("script-src 'self'"), 'CSP header');
});

await browser.close();
receiver.close();
fs.rmSync(userDir, { recursive: true, force: true });
console.log(`screenshots: ${shots.length} in ${ART}`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
