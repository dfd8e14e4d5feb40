// ops.test.mjs — the ops page end to end in headless Chromium against a
// real connectord (started by tests/integration/test_ops_page.sh, which
// passes OPS_URL, OPS_TOKEN, OPS_SHOTS, OPS_SABPAISA_URL, OPS_PG_CONNINFO).
// Fails on any console error or page error, except the HTTP failures the
// steps provoke on purpose (each listed in EXPECTED_HTTP), and on any
// secret typed into the page coming back in a response or in the page.
import { chromium } from 'playwright-core';
import assert from 'node:assert/strict';
import path from 'node:path';

const URL0 = process.env.OPS_URL;
const TOKEN = process.env.OPS_TOKEN;
const SHOTS = process.env.OPS_SHOTS || '/tmp/ops-shots';
const SABPAISA = process.env.OPS_SABPAISA_URL;
const PG_CONNINFO = process.env.OPS_PG_CONNINFO;
const GEN_SECRET = `Gen-Secret-${Date.now()}`;
const SFTP_SECRET = `Sftp-Secret-${Date.now()}`;
const PG_SECRET = PG_CONNINFO.split('password=')[1];
const SECRETS = [GEN_SECRET, SFTP_SECRET, PG_SECRET, PG_CONNINFO];
for (const v of ['OPS_URL', 'OPS_TOKEN', 'OPS_SABPAISA_URL', 'OPS_PG_CONNINFO']) assert.ok(process.env[v], `${v} not set`);

// HTTP failures the test causes deliberately: [status, method, path regexp].
const EXPECTED_HTTP = [
  [401, 'GET', /^\/connectors$/], // first load, before the token is given
  [400, 'POST', /^\/connectors$/], // the save with a validation error
  [504, 'POST', /^\/connectors\/\d+\/test$/], // a test answer turned into the wait's timeout
  [502, 'GET', /^\/connectors\/\d+\/runs\/\d+$/], // a run followed while connectord is unreachable
  [502, 'GET', /^\/connectors\/\d+\/backfills\/[^/]+$/], // a backfill followed likewise
  [404, 'GET', /^\/connectors\/\d+\/runs\/\d+$/], // an alert's #run-ID asked of connectors without it
  [412, 'PUT', /^\/connectors\/\d+$/], // a save over someone else's change made while the form was open
];

let step = 0;
let conf;
const problems = [];
const responses = []; // {url, status, body}
const failedHttp = [];

async function shot(page, name) {
  step += 1;
  const file = path.join(SHOTS, `${String(step).padStart(2, '0')}-${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  console.log(`  screenshot ${path.basename(file)}`);
}

function log(msg) { console.log(`== ${msg}`); }

const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', args: ['--no-sandbox'] });
const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
const page = await context.newPage();
page.setDefaultTimeout(20000);

page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
page.on('console', (m) => {
  if (m.type() !== 'error') return;
  // Chromium reports every 4xx/5xx as "Failed to load resource"; those are
  // checked against EXPECTED_HTTP in the response handler instead.
  if (/^Failed to load resource: the server responded with a status of \d+/.test(m.text())) return;
  problems.push(`console error: ${m.text()}`);
});
page.on('response', async (r) => {
  const u = new URL(r.url());
  const req = r.request();
  if (r.status() >= 400) {
    const ok = EXPECTED_HTTP.some(([s, m, re]) => s === r.status() && m === req.method() && re.test(u.pathname));
    if (!ok) problems.push(`unexpected HTTP ${r.status()} for ${req.method()} ${u.pathname}`);
    failedHttp.push(`${r.status()} ${req.method()} ${u.pathname}`);
  }
  if (r.status() >= 300 && r.status() < 400) return;
  try {
    responses.push({ url: r.url(), status: r.status(), body: await r.text() });
  } catch { /* a body the page did not wait for */ }
});

// A dialog's field by its label ("Name" matches "Name (required)" too).
const field = (scope, label) => scope.getByLabel(new RegExp(`^${label.replace(/[()]/g, '\\$&')}(\\s*\\*)?(\\s*\\(required\\))?$`));
const dialogNamed = (name) => page.locator(`dialog[data-name="${name}"]`);
const card = (name) => page.locator(`article.card[data-name="${name}"]`);

// Every visible input, select and textarea in scope has a label.
async function assertLabelled(scope, where) {
  const bad = await scope.evaluate((root) => [...root.querySelectorAll('input, select, textarea')]
    .filter((el) => el.offsetParent !== null && el.type !== 'hidden')
    .filter((el) => !(el.labels && el.labels.length) && !el.getAttribute('aria-label') && !el.getAttribute('aria-labelledby'))
    .map((el) => el.outerHTML.slice(0, 120)));
  assert.deepEqual(bad, [], `inputs without a label in ${where}`);
}

async function openAdd() {
  await page.getByRole('button', { name: 'Add connector' }).click();
  const d = dialogNamed('connector-form');
  await d.waitFor();
  return d;
}

async function fillCore(d, { name, type, driver, source, cron, scheduled = true }) {
  await field(d, 'Type').selectOption(type);
  if (driver) await field(d, 'Driver').selectOption(driver);
  await field(d, 'Name').fill(name);
  await field(d, 'Source entity').fill(source);
  const sched = field(d, 'Run on a schedule');
  if ((await sched.isChecked()) !== scheduled) await sched.click();
  if (cron) await field(d, 'Schedule (cron)').fill(cron);
}

async function save(d, name) {
  await d.getByRole('button', { name: 'Create connector' }).click();
  await d.waitFor({ state: 'detached' });
  await card(name).waitFor();
}

async function runState(name) {
  return card(name).locator('.run-state').getAttribute('data-state');
}

try {
  log('the page asks for a token and keeps it for the session only');
  await page.goto(`${URL0}/`); // "/" redirects to /ops/connectors
  assert.match(page.url(), /\/ops\/connectors$/);
  const tokenDlg = dialogNamed('token');
  await tokenDlg.waitFor();
  await assertLabelled(tokenDlg, 'token prompt');
  await shot(page, 'token-prompt');
  await page.getByLabel('Token', { exact: true }).fill(TOKEN);
  await page.keyboard.press('Enter');
  await page.locator('#grid .card').first().waitFor();
  assert.equal(await page.evaluate(() => sessionStorage.getItem('connectord.token')), TOKEN);
  assert.equal(await page.evaluate(() => localStorage.length), 0, 'nothing in localStorage');
  await assertLabelled(page.locator('header.top'), 'header');
  await shot(page, 'grid-start');

  log('keyboard: a dialog opens with Enter, keeps Tab inside, closes with Escape and returns focus');
  await page.getByRole('button', { name: 'Add connector' }).focus();
  await page.keyboard.press('Enter');
  const form0 = dialogNamed('connector-form');
  await form0.waitFor();
  for (let i = 0; i < 25; i++) {
    await page.keyboard.press('Tab');
    const inside = await page.evaluate(() => !!document.activeElement.closest('dialog[open]') || document.activeElement === document.body);
    assert.ok(inside, `focus left the dialog after ${i + 1} Tab presses`);
  }
  // Focus is visible: the focused control draws an outline.
  for (let i = 0; i < 5 && await page.evaluate(() => document.activeElement === document.body); i++) await page.keyboard.press('Tab');
  const outline = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
  assert.notEqual(outline, 'none', 'focused control has a visible outline');
  await page.keyboard.press('Escape');
  await form0.waitFor({ state: 'detached' });
  assert.equal(await page.evaluate(() => document.activeElement.id), 'add', 'focus back on Add connector');

  log('a text selection let go over the backdrop keeps the form and what was typed; a click there closes it');
  {
    const f = await openAdd();
    await field(f, 'Name').fill('Half typed');
    const nb = await field(f, 'Name').boundingBox();
    const fb = await f.boundingBox();
    const outside = { x: Math.max(2, fb.x / 2), y: nb.y + nb.height / 2 };
    assert.ok(fb.x > 4, 'the backdrop shows left of the form');
    await page.mouse.move(nb.x + nb.width - 4, nb.y + nb.height / 2);
    await page.mouse.down();
    await page.mouse.move(outside.x, outside.y, { steps: 5 });
    await page.mouse.up();
    await page.waitForTimeout(200);
    assert.equal(await f.count(), 1, 'the form is still open after a drag ending on the backdrop');
    assert.equal(await field(f, 'Name').inputValue(), 'Half typed', 'what was typed is kept');
    await page.mouse.click(outside.x, outside.y);
    await f.waitFor({ state: 'detached' });
  }

  log('PG_API through the form: a validation error, fixed; cron preview');
  let d = await openAdd();
  await fillCore(d, { name: 'SabPaisa mock', type: 'PG_API', source: 'SABPAISA', cron: '*/15 * * * 1-5' });
  const preview = d.locator('.cron-preview');
  await assert.doesNotReject(preview.getByText('Every 15 minutes, on Monday to Friday').waitFor());
  assert.equal(await preview.locator('li').count(), 5, 'five next runs');
  await field(d, 'Schedule (cron)').fill('0 2 * * *');
  await preview.getByText('At 02:00, every day (Asia/Kolkata)').waitFor();
  const firstPreview = (await preview.locator('li').first().textContent()).trim();
  await field(d, 'Api base url').fill('not-a-url');
  await field(d, 'Merchant codes').fill('MOCKA, MOCKB');
  // The inline error arrives from POST /connectors/validate as you type.
  const urlError = d.locator('.field.has-error .field-error', { hasText: 'does not match the pattern' });
  await urlError.waitFor();
  await assertLabelled(d, 'PG_API form');
  await shot(page, 'pg-api-validation-error');
  // Saving anyway keeps the form open with the error shown.
  await d.getByRole('button', { name: 'Create connector' }).click();
  await d.locator('.form-errors').getByText('1 problem to fix before saving.').waitFor();
  assert.ok(await d.isVisible(), 'form stays open after a failed save');
  await field(d, 'Api base url').fill(SABPAISA);
  await urlError.waitFor({ state: 'detached' });
  await shot(page, 'pg-api-fixed');
  await save(d, 'SabPaisa mock');
  const nextRun = (await card('SabPaisa mock').locator('.stat', { hasText: 'Next run' }).locator('time').textContent()).trim();
  assert.equal(nextRun, firstPreview, 'the card\'s next run (server) is the preview\'s first (browser)');

  log('BANK_API with the test_gen driver, a secret password and extra settings');
  d = await openAdd();
  await fillCore(d, { name: 'Test bank', type: 'BANK_API', driver: 'test_gen', source: 'TESTBANK', scheduled: false });
  await field(d, 'Rows').fill('24');
  await field(d, 'Seed').fill('7');
  await field(d, 'Bad every').fill('8');
  // the service's run policy is in every driver's form
  await field(d, 'Sync days back').fill('2');
  const pw = d.getByLabel('Password', { exact: true });
  assert.equal(await pw.getAttribute('type'), 'password', 'secret field is a password input');
  await pw.fill(GEN_SECRET);
  await field(d, 'Other settings (JSON object)').fill('{"sleep_ms": 120, "bank": "OPSBANK"}');
  await assertLabelled(d, 'BANK_API form');
  await shot(page, 'bank-api-form');
  await save(d, 'Test bank');

  log('BANK_SFTP: validated and saved (no sshd here)');
  d = await openAdd();
  await fillCore(d, { name: 'HDFC drop box', type: 'BANK_SFTP', source: 'HDFC', cron: '30 7 * * *' });
  // The template picker (GET /templates) fills the file format from a bank's template.
  await d.getByLabel('Bank file template').selectOption('AXIS RECON');
  const tplFormat = JSON.parse(await field(d, 'Format').inputValue());
  assert.equal(tplFormat.columns.bank_ref, 'TXNID', 'AXIS RECON template fills the format');
  await shot(page, 'bank-sftp-template');
  await field(d, 'Host').fill('127.0.0.1');
  await field(d, 'Username').fill('ops');
  await field(d, 'Remote path').fill('/inbox');
  await d.getByLabel('Password', { exact: true }).fill(SFTP_SECRET);
  await field(d, 'Format').fill('{"type": "csv", "columns": {"bank_ref": "Ref", "amount": "Amount", "transaction_date": "Date"}}');
  // The driver's own rule: the host key must be pinned. The field was not
  // touched, so the error shows on save.
  await d.getByRole('button', { name: 'Create connector' }).click();
  await d.locator('.field-error', { hasText: 'host_key_sha256 or known_hosts_file' }).waitFor();
  await shot(page, 'bank-sftp-driver-rule');
  await field(d, 'Host key sha256').fill(`SHA256:${'A'.repeat(43)}`);
  await d.locator('.field-error', { hasText: 'host_key_sha256 or known_hosts_file' }).waitFor({ state: 'detached' });
  await assertLabelled(d, 'BANK_SFTP form');
  await save(d, 'HDFC drop box');

  log('BANK_API form: a tab delimiter is sent as a tab; the HMAC canonical string is multi-line');
  d = await openAdd();
  await fillCore(d, { name: 'Tab bank', type: 'BANK_API', driver: 'bank_api', source: 'TAB', scheduled: false });
  await d.locator('summary', { hasText: /^Csv/ }).click();
  await field(d, 'Delimiter').fill('\t');
  assert.equal(await d.locator('textarea[name$="hmac.canonical"]').count(), 1, 'canonical is a textarea');
  const posted = page.waitForRequest((r) => r.method() === 'POST' && /\/connectors$/.test(new URL(r.url()).pathname));
  await d.getByRole('button', { name: 'Create connector' }).click();
  const sent = JSON.parse((await posted).postData());
  assert.equal(sent.connection_config.csv.delimiter, '\t', 'the tab is kept, not read as empty');
  await page.keyboard.press('Escape');
  await d.waitFor({ state: 'detached' });

  log('PG_DATABASE pointing at the test PostgreSQL, conninfo as a secret');
  d = await openAdd();
  await fillCore(d, { name: 'Ledger DB', type: 'PG_DATABASE', source: 'LEDGER', scheduled: false });
  await field(d, 'Conninfo').fill(PG_CONNINFO);
  await field(d, 'Query').fill("SELECT ref AS bank_ref, 'OPS' AS bank_name, amount, day AS transaction_date FROM ops_src WHERE day BETWEEN $1::date AND $2::date");
  await field(d, 'Dataset').selectOption('bank_statement');
  await assertLabelled(d, 'PG_DATABASE form');
  await save(d, 'Ledger DB');
  await shot(page, 'grid-four-connectors');

  log('secrets: reload, edit shows an empty password field; saving it empty keeps the stored value');
  await page.reload();
  await card('Ledger DB').waitFor();
  for (const s of SECRETS) assert.ok(!(await page.content()).includes(s), 'secret in the page after reload');
  await card('Ledger DB').getByRole('button', { name: 'Edit Ledger DB' }).click();
  d = dialogNamed('connector-form');
  await d.waitFor();
  const conn = field(d, 'Conninfo');
  assert.equal(await conn.inputValue(), '', 'secret never pre-filled');
  assert.equal(await conn.getAttribute('type'), 'password');
  assert.match(await conn.getAttribute('placeholder'), /leave empty to keep/);
  const html = await page.content();
  for (const s of SECRETS) assert.ok(!html.includes(s), 'secret in the edit form');
  await shot(page, 'edit-secret-empty');
  await field(d, 'Source entity').fill('LEDGER2');
  await d.getByRole('button', { name: 'Save changes' }).click();
  await d.waitFor({ state: 'detached' });
  await card('Ledger DB').getByText('PG_DATABASE • LEDGER2').waitFor();

  log('edit: a save over a change someone made while the form was open is refused, not an undo of it');
  {
    const ledgerId = await card('Ledger DB').getAttribute('data-id');
    await card('Ledger DB').getByRole('button', { name: 'Edit Ledger DB' }).click();
    d = dialogNamed('connector-form');
    await d.waitFor();
    // Someone else (another tab, connectorctl) changes the schedule meanwhile.
    const other = await context.request.put(`${URL0}/connectors/${ledgerId}`, {
      headers: { Authorization: `Bearer ${TOKEN}` }, data: { schedule_enabled: true, schedule_cron: '15 4 * * *' },
    });
    assert.equal(other.status(), 200, await other.text());
    await field(d, 'Source entity').fill('LEDGER3');
    await d.getByRole('button', { name: 'Save changes' }).click();
    await d.locator('.form-errors', { hasText: 'changed' }).waitFor();
    assert.ok(await d.locator('.form-errors').isVisible() && await d.locator('.form-errors').evaluate((el) => { const r = el.getBoundingClientRect(); const top = el.closest('dialog').querySelector('.dialog-head').getBoundingClientRect().bottom; const p = el.closest('dialog').getBoundingClientRect(); return r.top >= top && r.bottom <= p.bottom; }), 'the message is in view, below the dialog title');
    await shot(page, 'edit-conflict');
    const now = await (await context.request.get(`${URL0}/connectors/${ledgerId}`, { headers: { Authorization: `Bearer ${TOKEN}` } })).json();
    assert.equal(now.connector.schedule_cron, '15 4 * * *', 'the other change is kept');
    assert.equal(now.connector.source_entity, 'LEDGER2', 'the stale form was not saved');
    await page.keyboard.press('Escape');
    await d.waitFor({ state: 'detached' });
    // Opened again, the form shows their change and saves.
    await card('Ledger DB').getByRole('button', { name: 'Edit Ledger DB' }).click();
    d = dialogNamed('connector-form');
    await d.waitFor();
    assert.equal(await field(d, 'Schedule (cron)').inputValue(), '15 4 * * *');
    await field(d, 'Run on a schedule').uncheck();
    await d.getByRole('button', { name: 'Save changes' }).click();
    await d.waitFor({ state: 'detached' });
  }

  log('edit: a number Chromium cannot parse is an error, not a deleted setting');
  const puts = [];
  page.on('request', (r) => { if (r.method() === 'PUT') puts.push(r.url()); });
  await card('Test bank').getByRole('button', { name: 'Edit Test bank' }).click();
  d = dialogNamed('connector-form');
  await d.waitFor();
  const rows = field(d, 'Rows');
  await rows.fill('');
  await rows.pressSequentially('1e');
  assert.ok(await rows.evaluate((el) => el.validity.badInput), 'Chromium sees "1e" as bad input');
  await d.getByRole('button', { name: 'Save changes' }).click();
  await d.locator('.field.has-error .field-error', { hasText: 'is not a number' }).waitFor();
  assert.equal(await rows.getAttribute('aria-invalid'), 'true');
  assert.equal(await page.evaluate(() => document.activeElement.name), 'connection_config.rows', 'focus on the bad number');
  assert.deepEqual(puts, [], 'nothing saved with a bad number');
  await shot(page, 'edit-bad-number');
  await rows.fill('24');

  log('edit: the reference box clears the field, and left empty keeps the stored secret');
  const secretRow = d.locator('.field', { has: page.getByLabel('Password', { exact: true }) });
  const pwIn = secretRow.getByLabel('Password', { exact: true });
  const refBox = secretRow.getByRole('checkbox', { name: 'reference' });
  await refBox.check();
  assert.equal(await pwIn.getAttribute('type'), 'text');
  await pwIn.fill('env:OPS_REF');
  await refBox.uncheck();
  assert.equal(await pwIn.inputValue(), '', 'the reference is not left in the password field');
  assert.equal(await pwIn.getAttribute('type'), 'password');
  await pwIn.pressSequentially('x');
  await refBox.check();
  assert.equal(await pwIn.inputValue(), '', 'typed secret not kept as a reference');
  const put = page.waitForRequest((r) => r.method() === 'PUT');
  await d.getByRole('button', { name: 'Save changes' }).click();
  const putBody = JSON.parse((await put).postData());
  assert.equal(putBody.connection_config.password, '********', 'the mask is sent: the stored secret stays');
  assert.equal(putBody.connection_config.rows, 24);
  await d.waitFor({ state: 'detached' });
  const testBankId = await card('Test bank').getAttribute('data-id');
  const apiHeaders = { Authorization: `Bearer ${TOKEN}` };
  const stored = await (await context.request.get(`${URL0}/connectors/${testBankId}`, { headers: apiHeaders })).json();
  assert.equal(stored.connector.connection_config.password, '********', 'the plaintext secret is still stored');

  log('Test: a toast with the driver\'s message and steps, and a link to the test run');
  await card('Ledger DB').getByRole('button', { name: 'Test Ledger DB' }).click();
  let t = page.locator('.toast', { hasText: 'Test passed: Ledger DB' });
  await t.waitFor({ timeout: 60000 });
  assert.ok(await t.locator('.steps li').count() >= 1, 'test steps listed');
  await shot(page, 'test-toast-pg-database');
  await t.locator('.toast-close').click();
  await card('Test bank').getByRole('button', { name: 'Test Test bank' }).click();
  t = page.locator('.toast', { hasText: 'Test passed: Test bank' });
  await t.waitFor({ timeout: 60000 });
  await t.getByText('generator reachable').waitFor();
  await t.locator('.steps li', { hasText: 'connect' }).waitFor();
  // The runner's steps say {step, passed, detail}: a passed step is shown passed.
  assert.deepEqual(await t.locator('.steps li').evaluateAll((els) => els.map((e) => [e.className, e.textContent])),
    [['step-ok', '✓ passed: connect — generator ready']], 'the passed step is shown as passed');
  await shot(page, 'test-toast-test-gen');
  await t.getByRole('button', { name: /View test run/ }).click();
  const testRun = dialogNamed('run');
  await testRun.waitFor();
  await testRun.getByText('TEST', { exact: true }).waitFor();
  await page.keyboard.press('Escape');
  await testRun.waitFor({ state: 'detached' });
  await t.locator('.toast-close').click();

  log('Test: the wait running out (504) is "still running" with the run, not a failure');
  // A real test runs; only its answer becomes the 504 a slow one gets.
  await page.route('**/connectors/*/test', async (route) => {
    const real = await (await route.fetch()).json();
    await route.fulfill({ status: 504, json: { success: false, error: 'The test did not finish in time; it goes on in the background', run_id: real.run_id, status: 'RUNNING' } });
  });
  await card('Test bank').getByRole('button', { name: 'Test Test bank' }).click();
  t = page.locator('.toast', { hasText: 'Test still running: Test bank' });
  await t.waitFor({ timeout: 60000 });
  await page.unroute('**/connectors/*/test');
  assert.ok(await t.evaluate((el) => el.classList.contains('toast-info')), 'an info toast');
  assert.equal(await page.locator('.toast', { hasText: 'Test failed' }).count(), 0, 'not shown as a failure');
  await t.getByText('goes on in the background').waitFor();
  await shot(page, 'test-toast-still-running');
  await t.getByRole('button', { name: /View test run/ }).click();
  await testRun.waitFor();
  await testRun.getByText('TEST', { exact: true }).waitFor();
  await page.keyboard.press('Escape');
  await testRun.waitFor({ state: 'detached' });
  await t.locator('.toast-close').click();

  log('Run: the date sync_days_back (2) before today by default; the card goes queued -> running -> outcome');
  await page.evaluate(() => {
    // Every state the card shows, in order, however briefly.
    window.__states = [];
    const seen = () => {
      const el = document.querySelector('article.card[data-name="Test bank"] .run-state');
      const s = el && el.dataset.state;
      if (s && window.__states[window.__states.length - 1] !== s) window.__states.push(s);
    };
    new MutationObserver(seen).observe(document.getElementById('grid'), { childList: true, subtree: true, attributes: true });
  });
  // A day in Asia/Kolkata, read on both sides of the dialog's value: the
  // test may run across midnight there (18:30 UTC).
  const kolkataDay = (back) => page.evaluate((b) => {
    const f = new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Kolkata', year: 'numeric', month: '2-digit', day: '2-digit' });
    return f.format(new Date(Date.now() - b * 86400000));
  }, back);
  const t2Before = await kolkataDay(2);
  await card('Test bank').getByRole('button', { name: 'Run Test bank' }).click();
  const runDlg = dialogNamed('run-now');
  await runDlg.waitFor();
  const runDate = await field(runDlg, 'Business date').inputValue();
  assert.match(runDate, /^\d{4}-\d{2}-\d{2}$/);
  const expectT2 = [t2Before, await kolkataDay(2)].includes(runDate) ? runDate : t2Before;
  assert.equal(runDate, expectT2, 'default date is the connector\'s sync_days_back (2) in Asia/Kolkata');
  await shot(page, 'run-date');
  await runDlg.getByRole('button', { name: 'Run now' }).click();
  await page.waitForFunction(() => document.querySelector('article.card[data-name="Test bank"] .run-state')?.dataset.state === 'RUNNING');
  await shot(page, 'card-running');
  await page.waitForFunction(() => ['SUCCESS', 'PARTIAL_SUCCESS', 'FAILED'].includes(document.querySelector('article.card[data-name="Test bank"] .run-state')?.dataset.state), null, { timeout: 60000 });
  const states = await page.evaluate(() => window.__states);
  console.log(`  card states: ${states.join(' -> ')}`);
  const qi = states.indexOf('QUEUED'); const ri = states.indexOf('RUNNING');
  assert.ok(qi >= 0 && ri > qi, `queued then running: ${states}`);
  assert.equal(states[states.length - 1], 'PARTIAL_SUCCESS', 'bad rows make it a partial success');
  assert.equal(await page.evaluate(() => document.body.dataset.moving), 'no', 'polling stopped');
  const recs = (await card('Test bank').locator('.stat', { hasText: 'Records (last run)' }).locator('dd').textContent()).trim();
  assert.equal(recs, '21', 'records loaded by the last run (24 rows, every 8th bad)');
  await shot(page, 'card-outcome');

  log('History: filters, pages, a run\'s attempts, log and record errors');
  await card('Test bank').getByRole('button', { name: 'History Test bank' }).click();
  const hist = dialogNamed('history');
  await hist.locator('tbody tr').first().waitFor();
  assert.equal(await hist.locator('tbody tr').count(), 3, 'two test runs and the manual run');
  await assertLabelled(hist, 'history');
  await shot(page, 'history');
  await field(hist, 'Type').selectOption('MANUAL');
  await hist.locator('tbody tr').nth(1).waitFor({ state: 'detached' });
  assert.equal(await hist.locator('tbody tr').count(), 1);
  await hist.getByRole('button', { name: /^Details of run/ }).click();
  const run = dialogNamed('run');
  await run.locator('.run-section', { hasText: 'Attempts' }).locator('tbody tr').first().waitFor();
  await run.locator('.run-section', { hasText: 'Record errors' }).locator('tbody tr').first().waitFor();
  await run.locator('.log li').first().waitFor();
  assert.equal(await run.getAttribute('data-status'), 'PARTIAL_SUCCESS');
  assert.ok((await run.locator('.log').textContent()).includes('********'), 'password masked in the run log');
  await shot(page, 'run-detail');
  await page.keyboard.press('Escape'); // the run dialog, then the history
  await run.waitFor({ state: 'detached' });
  // Filters changed quickly: the page read last is the one the filters
  // say, whichever answer arrives last.
  {
    const hpath = (u) => /\/history$/.test(u.pathname);
    const slowTest = async (route) => {
      if (new URL(route.request().url()).searchParams.get('run_type') === 'TEST') await new Promise((res) => setTimeout(res, 1500));
      await route.fallback();
    };
    await page.route(hpath, slowTest);
    const answered = page.waitForResponse((r) => hpath(new URL(r.url())) && new URL(r.url()).searchParams.get('run_type') === 'TEST');
    await field(hist, 'Type').selectOption('TEST');
    await field(hist, 'Type').selectOption('MANUAL');
    await answered;
    await page.waitForTimeout(300);
    await page.unroute(hpath, slowTest);
    const types = await hist.locator('tbody tr').evaluateAll((trs) => trs.map((tr) => tr.children[1].textContent));
    assert.deepEqual(types, ['MANUAL'], 'the rows of the filter chosen last, not of the answer that came last');
  }
  await page.keyboard.press('Escape');
  await hist.waitFor({ state: 'detached' });

  log('Backfill 5 days and follow each date to the end');
  await card('Test bank').getByRole('button', { name: 'Backfill Test bank' }).click();
  const bf = dialogNamed('backfill');
  await bf.getByText('This creates 5 runs').waitFor();
  await assertLabelled(bf, 'backfill');
  // A future date is refused before anything is sent.
  const today = await field(bf, 'To date').getAttribute('max');
  const fromBefore = await field(bf, 'From date').inputValue();
  // The dialog's own T-1 (its default To date): computed again here, a
  // T-1 from before the runs above may be a day behind the dialog's.
  const expectT1 = await field(bf, 'To date').inputValue();
  assert.equal(expectT1, await (async () => { const d = new Date(`${today}T00:00:00Z`); d.setUTCDate(d.getUTCDate() - 1); return d.toISOString().slice(0, 10); })(), 'To date defaults to the day before today');
  await field(bf, 'To date').fill(`${Number(today.slice(0, 4)) + 1}${today.slice(4)}`);
  await bf.getByText('is in the future').waitFor();
  assert.ok(await bf.getByRole('button', { name: 'Start backfill' }).isDisabled());
  await field(bf, 'To date').fill(expectT1);
  await bf.getByText('This creates 5 runs').waitFor();
  assert.ok(fromBefore < expectT1);
  await shot(page, 'backfill-range');
  await bf.getByRole('button', { name: 'Start backfill' }).click();
  await bf.locator('.bf-dates li').nth(4).waitFor();
  await bf.locator('.bf-dates li[data-status="RUNNING"]').first().waitFor({ timeout: 30000 });
  await shot(page, 'backfill-progress');
  await page.waitForFunction(() => document.querySelector('dialog[data-name="backfill"]')?.dataset.finished === 'yes', null, { timeout: 120000 });
  const statuses = await bf.locator('.bf-dates li').evaluateAll((els) => els.map((e) => e.dataset.status));
  assert.deepEqual(statuses, Array(5).fill('PARTIAL_SUCCESS'), 'five dates done');
  assert.equal(await bf.locator('progress').evaluate((p) => `${p.value}/${p.max}`), '5/5');
  await shot(page, 'backfill-done');
  await page.keyboard.press('Escape');
  await bf.waitFor({ state: 'detached' });

  log('Backfill cancel asks first, and a second Enter after Start cancels nothing');
  const cancels = [];
  page.on('request', (r) => { if (r.method() === 'POST' && /\/cancel$/.test(r.url())) cancels.push(r.url()); });
  await card('Test bank').getByRole('button', { name: 'Backfill Test bank' }).click();
  const bf2 = dialogNamed('backfill');
  await bf2.getByText('This creates 5 runs').waitFor();
  await bf2.getByRole('button', { name: 'Start backfill' }).focus();
  await page.keyboard.press('Enter');
  await bf2.locator('.bf-dates li').nth(4).waitFor();
  assert.ok(await page.evaluate(() => document.activeElement.classList.contains('bf-text')), 'focus on the progress text');
  await page.keyboard.press('Enter');
  await page.waitForTimeout(300);
  assert.equal(await dialogNamed('confirm').count(), 0, 'Enter opens nothing');
  await bf2.getByRole('button', { name: 'Cancel backfill' }).click();
  conf = dialogNamed('confirm');
  await conf.waitFor();
  assert.equal(await page.evaluate(() => document.activeElement.textContent), 'Cancel', 'the safe choice has focus');
  await shot(page, 'backfill-cancel-confirm');
  await page.keyboard.press('Escape');
  await conf.waitFor({ state: 'detached' });
  assert.deepEqual(cancels, [], 'no cancel sent');
  assert.equal(await bf2.getAttribute('data-finished'), 'no', 'the backfill goes on');
  await page.keyboard.press('Escape');
  await bf2.waitFor({ state: 'detached' });

  log('A reload while a button is held down does not lose the press');
  {
    const btn = card('Test bank').getByRole('button', { name: 'History Test bank' });
    // The list re-renders every second while runs move: the button found
    // may be replaced between finding and measuring it (boundingBox is then
    // null). The new one stands in the same place.
    let box = null;
    for (let i = 0; i < 50 && !box; i++) {
      await btn.waitFor();
      box = await btn.boundingBox();
      if (!box) await page.waitForTimeout(100);
    }
    assert.ok(box, 'the History button has a place on the page');
    const before = await page.locator('#list-status').textContent();
    await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    await page.mouse.down();
    // The list reloads (as it does every second while runs move) under the held button.
    await page.waitForTimeout(1100);
    await page.evaluate(() => document.dispatchEvent(new Event('visibilitychange')));
    await page.waitForFunction((b) => document.querySelector('#list-status').textContent !== b, before);
    await page.mouse.up();
    const held = dialogNamed('history');
    await held.waitFor({ timeout: 5000 });
    await page.keyboard.press('Escape');
    await held.waitFor({ state: 'detached' });
  }

  log('Cancel run in the run detail asks first');
  await card('Test bank').getByRole('button', { name: 'History Test bank' }).click();
  const hist2 = dialogNamed('history');
  await field(hist2, 'Type').selectOption('BACKFILL');
  await field(hist2, 'Status').selectOption('QUEUED');
  await hist2.locator('tbody tr td', { hasText: 'QUEUED' }).first().waitFor();
  await hist2.getByRole('button', { name: /^Details of run/ }).first().click();
  const run2 = dialogNamed('run');
  const cancelRun = run2.getByRole('button', { name: 'Cancel run' });
  await cancelRun.waitFor();
  await cancelRun.click();
  conf = dialogNamed('confirm');
  await conf.waitFor();
  await page.keyboard.press('Escape');
  await conf.waitFor({ state: 'detached' });
  assert.deepEqual(cancels, [], 'Escape cancels no run');
  assert.notEqual(await run2.getAttribute('data-status'), 'FAILED');
  await cancelRun.click();
  await dialogNamed('confirm').getByRole('button', { name: 'Cancel run' }).click();
  await page.waitForFunction(() => document.querySelector('dialog[data-name="run"]')?.dataset.status === 'FAILED', null, { timeout: 30000 });
  assert.equal(cancels.length, 1, 'one cancel, after the confirmation');
  await shot(page, 'run-cancelled');
  await page.keyboard.press('Escape');
  await run2.waitFor({ state: 'detached' });
  await page.keyboard.press('Escape');
  await hist2.waitFor({ state: 'detached' });
  // The rest of the backfill runs out before Pause.
  await page.waitForFunction(() => !document.querySelector('article.card[data-name="Test bank"] .run-state .spinner'), null, { timeout: 60000 });

  log('Pause and Resume');
  await card('Test bank').getByRole('button', { name: 'Pause Test bank' }).click();
  await card('Test bank').locator('.badge', { hasText: 'PAUSED' }).waitFor();
  assert.ok(await card('Test bank').getByRole('button', { name: 'Run Test bank' }).isDisabled(), 'no run while paused');
  await page.getByRole('button', { name: 'Paused', exact: true }).click();
  await page.locator('#grid .card').first().waitFor();
  assert.equal(await card('Test bank').count(), 1, 'Paused tab lists it');
  await shot(page, 'paused-tab');
  await page.getByRole('button', { name: 'All', exact: true }).click();
  await card('Test bank').getByRole('button', { name: 'Resume Test bank' }).click();
  await card('Test bank').locator('.badge', { hasText: 'ACTIVE' }).waitFor();

  log('Search by name or source entity');
  await page.getByLabel('Search').fill('hdfc');
  await page.waitForFunction(() => document.querySelectorAll('#grid .card').length === 1);
  assert.equal(await card('HDFC drop box').count(), 1);
  await page.getByLabel('Search').fill('');
  await page.waitForFunction(() => document.querySelectorAll('#grid .card').length === 5);

  log('Delete asks first; Cancel keeps the connector, Delete removes it');
  await card('SabPaisa mock').getByRole('button', { name: 'Delete SabPaisa mock' }).click();
  conf = dialogNamed('confirm');
  await conf.waitFor();
  assert.equal(await page.evaluate(() => document.activeElement.textContent), 'Cancel', 'the safe choice has focus');
  await shot(page, 'delete-confirm');
  await page.keyboard.press('Escape');
  await conf.waitFor({ state: 'detached' });
  assert.equal(await card('SabPaisa mock').count(), 1, 'still there after Escape');
  await card('SabPaisa mock').getByRole('button', { name: 'Delete SabPaisa mock' }).click();
  conf = dialogNamed('confirm');
  // The real delete, its counts raised as if runs had been queued.
  let realDelete = null;
  await page.route('**/connectors/*', async (route) => {
    if (route.request().method() !== 'DELETE') { await route.fallback(); return; }
    realDelete = await (await route.fetch()).json();
    await route.fulfill({ json: { ...realDelete, cancelled_runs: 1, dropped_queued_runs: 3 } });
  });
  await conf.getByRole('button', { name: 'Delete' }).click();
  await card('SabPaisa mock').waitFor({ state: 'detached' });
  const delToast = page.locator('.toast', { hasText: 'Deleted SabPaisa mock' });
  await delToast.waitFor();
  await page.unroute('**/connectors/*');
  assert.equal(realDelete.dropped_queued_runs, 0, 'the server reports dropped queued runs');
  assert.equal((await delToast.locator('.toast-msg').textContent()).trim(), '1 run cancelled, 3 queued runs dropped.');
  await shot(page, 'after-delete');

  log('an idle page reloads the list every minute and when shown again');
  {
    // A context of its own: the clock is per context, and the main page
    // must keep real time.
    const ctx2 = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page2 = await ctx2.newPage();
    page2.on('pageerror', (e) => problems.push(`page error (idle page): ${e.message}`));
    await page2.addInitScript((tk) => sessionStorage.setItem('connectord.token', tk), TOKEN);
    await page2.clock.install();
    await page2.goto(`${URL0}/ops/connectors`);
    const hdfc = page2.locator('article.card[data-name="HDFC drop box"]');
    await hdfc.locator('.badge', { hasText: 'ACTIVE' }).waitFor();
    assert.equal(await page2.evaluate(() => document.body.dataset.moving), 'no', 'nothing moving: the idle case');
    const hdfcId = await hdfc.getAttribute('data-id');
    const headers = { Authorization: `Bearer ${TOKEN}` };
    // Changed behind the page's back, as another operator or the scheduler would.
    assert.ok((await context.request.post(`${URL0}/connectors/${hdfcId}/pause`, { headers, data: {} })).ok());
    await page2.waitForTimeout(500);
    assert.equal(await hdfc.locator('.badge', { hasText: 'PAUSED' }).count(), 0, 'no reload before the minute');
    await page2.clock.fastForward(61000);
    await hdfc.locator('.badge', { hasText: 'PAUSED' }).waitFor({ timeout: 10000 });
    assert.ok((await context.request.post(`${URL0}/connectors/${hdfcId}/resume`, { headers, data: {} })).ok());
    await page2.evaluate(() => document.dispatchEvent(new Event('visibilitychange')));
    await hdfc.locator('.badge', { hasText: 'ACTIVE' }).waitFor({ timeout: 10000 });
    await ctx2.close();
  }

  // Connectors of their own for the steps below, made through the API.
  const apiH = { Authorization: `Bearer ${TOKEN}` };
  async function makeGen(name, config) {
    const r = await context.request.post(`${URL0}/connectors`, {
      headers: apiH,
      data: { name, connector_type: 'BANK_API', driver: 'test_gen', source_entity: name.toUpperCase().replace(/\W/g, ''), schedule_enabled: false, connection_config: config },
    });
    assert.equal(r.status(), 201, `create ${name}: ${await r.text()}`);
    return String((await r.json()).connector.id);
  }
  const rejId = await makeGen('All rejected', { rows: 3, bad_every: 1 });
  const slowId = await makeGen('Slow gen', { rows: 20, sleep_ms: 500 });
  const pagedId = await makeGen('Paged gen', { rows: 1 });
  await page.getByRole('button', { name: 'Refresh', exact: true }).click();
  await card('Slow gen').waitFor();

  log('History pages: a run started while paging does not show again on the next page');
  {
    const until = async (what, fn) => {
      for (let i = 0; i < 600; i++) {
        if (await fn()) return;
        await new Promise((res) => setTimeout(res, 100));
      }
      throw new Error(`timed out waiting for ${what}`);
    };
    const hist = async () => (await context.request.get(`${URL0}/connectors/${pagedId}/history?limit=100`, { headers: apiH })).json();
    const bfr = await context.request.post(`${URL0}/connectors/${pagedId}/backfill`, { headers: apiH, data: { from_date: '2025-01-01', to_date: '2025-01-31' } });
    assert.equal(bfr.status(), 202, await bfr.text());
    await until('31 backfill runs', async () => (await hist()).runs.filter((r) => r.status === 'SUCCESS').length === 31);
    const before = (await hist()).runs.map((r) => String(r.id));
    await card('Paged gen').getByRole('button', { name: 'History Paged gen' }).click();
    const ph = dialogNamed('history');
    await ph.getByText('1–30 of 31').waitFor();
    // Someone runs the connector while this page is read.
    const rr = await context.request.post(`${URL0}/connectors/${pagedId}/run`, { headers: apiH, data: {} });
    assert.equal(rr.status(), 202, await rr.text());
    const newRun = String((await rr.json()).run_id);
    await until('the new run', async () => (await hist()).runs.some((r) => String(r.id) === newRun && r.status === 'SUCCESS'));
    await ph.getByRole('button', { name: 'Older ›' }).click();
    await ph.getByText('31–31 of 32').waitFor();
    const shown = await ph.locator('tbody tr').evaluateAll((trs) => trs.map((tr) => tr.dataset.runId));
    assert.deepEqual(shown, [before[30]], 'page 2 holds the one run page 1 did not, not page 1\'s last again');
    assert.ok(await ph.getByRole('button', { name: 'Older ›' }).isDisabled());
    await ph.getByRole('button', { name: '‹ Newer' }).click();
    await ph.getByText('1–30 of 32').waitFor();
    assert.equal(await ph.locator('tbody tr').first().getAttribute('data-run-id'), newRun, 'back to the newest page, the new run first');
    await page.keyboard.press('Escape');
    await ph.waitFor({ state: 'detached' });
  }

  log('a pause holds queued backfill dates: the card says so and stops following them; resume runs them');
  {
    const heldId = await makeGen('Held gen', { rows: 5, sleep_ms: 300 });
    const bfr = await context.request.post(`${URL0}/connectors/${heldId}/backfill`, { headers: apiH, data: { from_date: '2025-02-01', to_date: '2025-02-03' } });
    assert.equal(bfr.status(), 202, await bfr.text());
    assert.ok((await context.request.post(`${URL0}/connectors/${heldId}/pause`, { headers: apiH, data: {} })).ok());
    // What was running when the pause came finishes; the dates after it wait.
    for (let i = 0; i < 300; i++) {
      const c = (await (await context.request.get(`${URL0}/connectors/${heldId}`, { headers: apiH })).json()).connector;
      if (c.active_run && c.active_run.status === 'QUEUED') break;
      await new Promise((res) => setTimeout(res, 100));
    }
    await page.getByRole('button', { name: 'Refresh', exact: true }).click();
    const hc = card('Held gen');
    await hc.locator('.run-state[data-held="yes"]').waitFor();
    assert.match(await hc.locator('.run-state').textContent(), /BACKFILL queued for 2025-02-0\d — held while paused: resume to run it/);
    assert.equal(await hc.locator('.run-state .spinner').count(), 0, 'no spinner for a run that is not moving');
    assert.match(await hc.locator('.dot').getAttribute('aria-label'), /held until the connector is resumed/);
    await shot(page, 'card-held-by-pause');
    assert.ok((await context.request.post(`${URL0}/connectors/${heldId}/resume`, { headers: apiH, data: {} })).ok());
    await page.getByRole('button', { name: 'Refresh', exact: true }).click();
    await page.waitForFunction(() => !document.querySelector('article.card[data-name="Held gen"] .run-state[data-held]')
      && document.querySelector('article.card[data-name="Held gen"] .run-state')?.dataset.state === 'SUCCESS', null, { timeout: 60000 });
  }

  log('a run that loaded nothing (every record rejected) is not shown healthy');
  await card('All rejected').getByRole('button', { name: 'Run All rejected' }).click();
  const rejRun = dialogNamed('run-now');
  await rejRun.getByRole('button', { name: 'Run now' }).click();
  await rejRun.waitFor({ state: 'detached' });
  await page.waitForFunction(() => document.querySelector('article.card[data-name="All rejected"] .run-state')?.dataset.state === 'PARTIAL_SUCCESS', null, { timeout: 60000 });
  {
    const rc = card('All rejected');
    assert.ok(!(await rc.evaluate((el) => el.classList.contains('health-green'))), 'a run that loaded nothing is not green');
    const dot = await rc.locator('.dot').getAttribute('aria-label');
    assert.match(dot, /loaded nothing/, `the health says nothing was loaded: ${dot}`);
    assert.match(await rc.locator('.run-state').textContent(), /loaded nothing, 3 records rejected/);
    await shot(page, 'card-all-rejected');
  }

  log('the run detail keeps following through failed requests (connectord restarting, a 502)');
  await card('Slow gen').getByRole('button', { name: 'Run Slow gen' }).click();
  const slowRun = dialogNamed('run-now');
  await slowRun.getByRole('button', { name: 'Run now' }).click();
  await slowRun.waitFor({ state: 'detached' });
  await card('Slow gen').getByRole('button', { name: 'History Slow gen' }).click();
  const slowHist = dialogNamed('history');
  await slowHist.getByRole('button', { name: /^Details of run/ }).first().click();
  const live = dialogNamed('run');
  await page.waitForFunction(() => ['QUEUED', 'RUNNING'].includes(document.querySelector('dialog[data-name="run"]')?.dataset.status));
  const runPath = (u) => /^\/connectors\/\d+\/runs\/\d+$/.test(u.pathname);
  const badGateway = (route) => (route.request().method() === 'GET'
    ? route.fulfill({ status: 502, contentType: 'text/plain', body: 'Bad Gateway' }) : route.fallback());
  await page.route(runPath, badGateway);
  const note = live.locator('.stale-note');
  await note.getByText(/^Could not reach connectord at \d/).waitFor({ timeout: 10000 });
  assert.match(await note.textContent(), /HTTP 502/);
  await shot(page, 'run-detail-stale');
  await page.waitForTimeout(2500); // a few more failed requests
  await page.unroute(runPath, badGateway);
  await page.waitForFunction(() => ['SUCCESS', 'PARTIAL_SUCCESS', 'FAILED'].includes(document.querySelector('dialog[data-name="run"]')?.dataset.status), null, { timeout: 60000 });
  assert.equal(await live.getAttribute('data-status'), 'SUCCESS', 'followed to the end');
  await note.waitFor({ state: 'hidden' });
  await page.keyboard.press('Escape');
  await live.waitFor({ state: 'detached' });
  await page.keyboard.press('Escape');
  await slowHist.waitFor({ state: 'detached' });

  log('the backfill progress keeps following through failed requests');
  await card('All rejected').getByRole('button', { name: 'Backfill All rejected' }).click();
  const bf3 = dialogNamed('backfill');
  await bf3.getByText('This creates 5 runs').waitFor();
  const bfPath = (u) => /^\/connectors\/\d+\/backfills\/[^/]+$/.test(u.pathname);
  // From the first poll on: the backfill is queued, then connectord is gone.
  await page.route(bfPath, badGateway);
  await bf3.getByRole('button', { name: 'Start backfill' }).click();
  const bfNote = bf3.locator('.stale-note');
  await bfNote.getByText(/^Could not reach connectord at \d/).waitFor({ timeout: 10000 });
  await shot(page, 'backfill-stale');
  await page.waitForTimeout(2500);
  await page.unroute(bfPath, badGateway);
  await page.waitForFunction(() => document.querySelector('dialog[data-name="backfill"]')?.dataset.finished === 'yes', null, { timeout: 120000 });
  assert.deepEqual(await bf3.locator('.bf-dates li').evaluateAll((els) => els.map((e) => e.dataset.status)), Array(5).fill('PARTIAL_SUCCESS'));
  await bfNote.waitFor({ state: 'hidden' });
  await page.keyboard.press('Escape');
  await bf3.waitFor({ state: 'detached' });

  log('a cancelled backfill counts its dates as cancelled, not failed, and the counts add up');
  {
    await makeGen('Cancel gen', { rows: 50, sleep_ms: 200 });
    await page.getByRole('button', { name: 'Refresh', exact: true }).click();
    await card('Cancel gen').getByRole('button', { name: 'Backfill Cancel gen' }).click();
    const bfc = dialogNamed('backfill');
    await bfc.getByText('This creates 5 runs').waitFor();
    await bfc.getByRole('button', { name: 'Start backfill' }).click();
    await bfc.locator('.bf-dates li[data-status="RUNNING"]').first().waitFor({ timeout: 30000 });
    await bfc.getByRole('button', { name: 'Cancel backfill' }).click();
    await dialogNamed('confirm').getByRole('button', { name: 'Cancel backfill' }).click();
    await page.waitForFunction(() => document.querySelector('dialog[data-name="backfill"]')?.dataset.finished === 'yes', null, { timeout: 60000 });
    const text = await bfc.locator('.bf-text').textContent();
    const m = text.match(/^(\d+) of 5 finished: (\d+) done, 0 failed, (\d+) cancelled, 0 running, 0 queued/);
    assert.ok(m, `progress text: ${text}`);
    assert.equal(Number(m[2]) + Number(m[3]), 5, `done and cancelled add up to the total: ${text}`);
    assert.equal(Number(m[1]), 5, `every date finished: ${text}`);
    assert.ok(Number(m[3]) >= 4, `the dates not yet run are cancelled: ${text}`);
    assert.equal(await bfc.locator('progress').evaluate((p) => `${p.value}/${p.max}`), '5/5');
    const dates = await bfc.locator('.bf-dates li').evaluateAll((els) => els.map((e) => [e.dataset.status, e.dataset.cancelled, e.querySelector('.badge').textContent]));
    for (const [status, cancelled, badge] of dates) {
      if (status === 'FAILED') assert.deepEqual([cancelled, badge], ['yes', 'cancelled'], 'a cancelled date is shown as cancelled');
    }
    for (const t of await bfc.locator('.bf-dates li[data-cancelled="yes"]').allTextContents()) {
      assert.ok(!/records/.test(t), `no record count for a cancelled date: ${t}`);
    }
    await shot(page, 'backfill-cancelled');
    await page.keyboard.press('Escape');
    await bfc.waitFor({ state: 'detached' });
  }

  log('alert links: #run-ID and #connector-CID-run-RID open the run, #connector-ID shows the card, unknown ids say so');
  {
    const h1 = await (await context.request.get(`${URL0}/connectors/${slowId}/history?limit=1`, { headers: apiH })).json();
    const runId = String(h1.runs[0].id);
    await page.goto('about:blank');
    await page.goto(`${URL0}/ops/connectors#run-${runId}`);
    const linked = dialogNamed('run');
    await linked.waitFor();
    assert.equal((await linked.locator('h2').textContent()).trim(), `Run ${runId} — Slow gen`);
    await page.waitForFunction(() => document.querySelector('dialog[data-name="run"]')?.dataset.status === 'SUCCESS');
    await shot(page, 'alert-link-run');
    await page.keyboard.press('Escape');
    await linked.waitFor({ state: 'detached' });
    assert.equal(await page.evaluate(() => location.hash), '', 'closed, the address no longer names the run');
    // What alerts link to now: the connector and the run.
    await page.evaluate(([c, r]) => { location.hash = `#connector-${c}-run-${r}`; }, [slowId, runId]);
    await linked.waitFor();
    assert.equal((await dialogNamed('run').locator('h2').textContent()).trim(), `Run ${runId} — Slow gen`);
    await page.keyboard.press('Escape');
    await dialogNamed('run').waitFor({ state: 'detached' });
    assert.equal(await page.evaluate(() => location.hash), '', 'closed, the address no longer names the run');
    await page.evaluate((c) => { location.hash = `#connector-${c}-run-987654321`; }, slowId);
    const t0 = page.locator('.toast', { hasText: 'Run 987654321 not found' });
    await t0.waitFor();
    await t0.locator('.toast-close').click();
    await page.evaluate(() => history.replaceState(null, '', location.pathname));
    // A card the Paused filter hides: the filter is dropped, the card focused.
    await page.getByRole('button', { name: 'Paused', exact: true }).click();
    await page.waitForFunction(() => !document.querySelector('article.card[data-name="All rejected"]'));
    await page.evaluate((id) => { location.hash = `#connector-${id}`; }, rejId);
    await page.waitForFunction((id) => document.activeElement?.id === `connector-${id}`, rejId);
    assert.equal(await page.getByRole('button', { name: 'All', exact: true }).getAttribute('aria-pressed'), 'true');
    assert.ok(await card('All rejected').isVisible());
    assert.ok(await card('All rejected').evaluate((el) => el.classList.contains('is-target')), 'the card is marked');
    await shot(page, 'alert-link-connector');
    // Unknown (or deleted) ids: a toast, no exception.
    await page.evaluate(() => { location.hash = '#run-987654321'; });
    const t1 = page.locator('.toast', { hasText: 'Run 987654321 not found' });
    await t1.waitFor();
    await t1.locator('.toast-close').click();
    await page.evaluate(() => { location.hash = '#connector-987654321'; });
    const t2 = page.locator('.toast', { hasText: 'Connector 987654321 not found' });
    await t2.waitFor();
    await t2.locator('.toast-close').click();
    assert.equal(await dialogNamed('run').count(), 0);
    await page.evaluate(() => history.replaceState(null, '', location.pathname));
  }

  log('the connector form asks for the drivers each time it opens');
  {
    const pluginGets = [];
    const onReq = (r) => { if (r.method() === 'GET' && new URL(r.url()).pathname === '/plugins') pluginGets.push(r.url()); };
    page.on('request', onReq);
    d = await openAdd();
    await page.keyboard.press('Escape');
    await d.waitFor({ state: 'detached' });
    // A driver installed (and loaded by connectord) while the page is open.
    const addLate = async (route) => {
      const real = await (await route.fetch()).json();
      const gen = real.loaded.find((p) => p.name === 'test_gen');
      await route.fulfill({ json: { ...real, loaded: [...real.loaded, { ...gen, name: 'late_gen' }] } });
    };
    await page.route('**/plugins', addLate);
    d = await openAdd();
    await field(d, 'Type').selectOption('BANK_API');
    assert.equal(await field(d, 'Driver').locator('option[value="late_gen"]').count(), 1, 'the new driver is offered');
    await page.unroute('**/plugins', addLate);
    await page.keyboard.press('Escape');
    await d.waitFor({ state: 'detached' });
    page.off('request', onReq);
    assert.equal(pluginGets.length, 2, 'one GET /plugins per opening');
  }

  log('edit: numbers JavaScript cannot hold (a 17-digit account number, 9007199254740993 paise) are saved back as they were');
  {
    const big = '{"rows": 1, "seed": 12345678901234567, "account_no": 98765432109876543,'
      + ' "limits": {"max_paise": 9007199254740993}}';
    const r = await context.request.post(`${URL0}/connectors`, {
      headers: { ...apiH, 'Content-Type': 'application/json' },
      data: `{"name": "Big numbers", "connector_type": "BANK_API", "driver": "test_gen", "source_entity": "BIG", "schedule_enabled": false, "connection_config": ${big}}`,
    });
    assert.equal(r.status(), 201, await r.text());
    const bigId = String((await r.json()).connector.id);
    await page.getByRole('button', { name: 'Refresh', exact: true }).click();
    await card('Big numbers').getByRole('button', { name: 'Edit Big numbers' }).click();
    const bf = dialogNamed('connector-form');
    await bf.waitFor();
    assert.equal(await field(bf, 'Seed').inputValue(), '12345678901234567', 'shown as stored, not rounded');
    const other = await field(bf, 'Other settings (JSON object)').inputValue();
    assert.ok(other.includes('98765432109876543') && other.includes('9007199254740993'), `other settings as stored: ${other}`);
    await field(bf, 'Source entity').fill('BIG2');
    await bf.getByRole('button', { name: 'Save changes' }).click();
    await bf.waitFor({ state: 'detached' });
    // Read as text: JSON.parse here would round them itself.
    const text = await (await context.request.get(`${URL0}/connectors/${bigId}`, { headers: apiH })).text();
    assert.match(text, /"source_entity":\s*"BIG2"/);
    for (const n of ['"seed":\\s*12345678901234567\\b', '"account_no":\\s*98765432109876543\\b', '"max_paise":\\s*9007199254740993\\b']) {
      assert.match(text, new RegExp(n), `unchanged by the page's save: ${text}`);
    }
  }

  log('edit: a connector whose driver this connectord has not loaded keeps its driver and settings');
  {
    // The worker serving the page lacks test_gen (its plugin file missing
    // there, or not yet installed on every host).
    const noGen = async (route) => {
      const real = await (await route.fetch()).json();
      await route.fulfill({ json: { ...real, loaded: real.loaded.filter((p) => p.name !== 'test_gen') } });
    };
    await page.route('**/plugins', noGen);
    await card('Big numbers').getByRole('button', { name: 'Edit Big numbers' }).click();
    const uf = dialogNamed('connector-form');
    await uf.waitFor();
    assert.equal(await field(uf, 'Driver').inputValue(), 'test_gen', 'the connector\'s driver, not the first one loaded');
    assert.match(await field(uf, 'Driver').locator('option:checked').textContent(), /not loaded by this connectord/);
    await uf.locator('.unloaded-driver').waitFor();
    await field(uf, 'Source entity').fill('BIG3');
    const put = page.waitForRequest((q) => q.method() === 'PUT');
    await uf.getByRole('button', { name: 'Save changes' }).click();
    const sent = JSON.parse((await put).postData());
    assert.ok(!('driver' in sent) && !('connection_config' in sent), `neither driver nor settings sent: ${JSON.stringify(sent)}`);
    await uf.waitFor({ state: 'detached' });
    await page.unroute('**/plugins', noGen);
    const text = await (await context.request.get(`${URL0}/connectors/${await card('Big numbers').getAttribute('data-id')}`, { headers: apiH })).text();
    assert.match(text, /"source_entity":\s*"BIG3"/);
    assert.match(text, /"driver":\s*"test_gen"/);
    assert.match(text, /"seed":\s*12345678901234567\b/);
  }

  log('text from the database and from remote systems is shown as text, never run; dates are the connector\'s in a browser in America/New_York');
  {
    const NAME = '<img src=x onerror="window.__xss=\'name\'"> gen';
    const MARKUP = '<img src=x onerror="window.__xss=\'error\'"><b>bold</b>';
    const r = await context.request.post(`${URL0}/connectors`, {
      headers: apiH,
      data: {
        name: NAME, connector_type: 'BANK_API', driver: 'test_gen', source_entity: '<b>SRC</b>', schedule_enabled: false,
        connection_config: { rows: 4, bad_every: 2, log_tag: '<script>window.__xss="log"</script>', bank: '<i>B</i>' },
      },
    });
    assert.equal(r.status(), 201, await r.text());
    const xid = String((await r.json()).connector.id);
    const failR = await context.request.post(`${URL0}/connectors`, {
      headers: apiH,
      data: { name: 'Refusing gen', connector_type: 'BANK_API', driver: 'test_gen', source_entity: 'REF', schedule_enabled: false, connection_config: { fail: 'config' } },
    });
    assert.equal(failR.status(), 201, await failR.text());
    // A business date that is a DST change in New York.
    const bfr = await context.request.post(`${URL0}/connectors/${xid}/backfill`, { headers: apiH, data: { from_date: '2026-03-08', to_date: '2026-03-08' } });
    assert.equal(bfr.status(), 202, await bfr.text());
    for (let i = 0; i < 300; i++) {
      const hh = await (await context.request.get(`${URL0}/connectors/${xid}/history`, { headers: apiH })).json();
      if (hh.runs.length && ['SUCCESS', 'PARTIAL_SUCCESS', 'FAILED'].includes(hh.runs[0].status)) break;
      await new Promise((res) => setTimeout(res, 100));
    }
    const ctxNY = await browser.newContext({ viewport: { width: 1280, height: 800 }, timezoneId: 'America/New_York' });
    const ny = await ctxNY.newPage();
    ny.setDefaultTimeout(20000);
    ny.on('pageerror', (e) => problems.push(`page error (New York page): ${e.message}`));
    await ny.addInitScript((tk) => sessionStorage.setItem('connectord.token', tk), TOKEN);
    // 2026-03-09 03:00 UTC: still 2026-03-08 in New York, already 2026-03-09 in Asia/Kolkata.
    await ny.clock.setFixedTime(new Date('2026-03-09T03:00:00Z'));
    // Error messages with markup, as a driver or a remote system may write them.
    const inject = async (route) => {
      const res = await route.fetch();
      const j = await res.json();
      if (j.run) { j.run.error_message = MARKUP; for (const a of j.run.attempts || []) a.error_message = MARKUP; }
      for (const x of j.runs || []) x.error_message = MARKUP;
      await route.fulfill({ response: res, json: j });
    };
    await ny.route(/\/connectors\/\d+\/(history|runs\/\d+)(\?|$)/, inject);
    await ny.goto(`${URL0}/ops/connectors`);
    const xc = ny.locator(`article.card[data-id="${xid}"]`);
    await xc.waitFor();
    assert.equal(await xc.locator('h3').textContent(), NAME, 'the name shown as text');
    assert.match(await xc.locator('.card-kind').textContent(), /<b>SRC<\/b>/);
    await xc.getByRole('button', { name: 'History' }).click();
    const xh = ny.locator('dialog[data-name="history"]');
    await xh.locator('tbody tr').first().waitFor();
    assert.equal(await xh.locator('h2').textContent(), `History — ${NAME}`);
    assert.equal((await xh.locator('tbody tr').first().locator('td').nth(2).textContent()), '2026-03-08', 'run_date as the server sent it, not shifted by the browser\'s zone');
    assert.equal(await xh.locator('tbody tr .err-cell').first().textContent(), MARKUP);
    await xh.getByRole('button', { name: /^Details of run/ }).first().click();
    const xr = ny.locator('dialog[data-name="run"]');
    await xr.locator('.run-error').waitFor();
    assert.equal(await xr.locator('.run-error').textContent(), MARKUP);
    assert.equal(await xr.locator('.stat', { hasText: 'Run date' }).locator('dd').textContent(), '2026-03-08');
    await xr.locator('.log li', { hasText: 'tag <script>window.__xss="log"</script>' }).waitFor();
    assert.ok(await xr.locator('text=Record errors').count() >= 1);
    await ny.keyboard.press('Escape');
    await xr.waitFor({ state: 'detached' });
    await ny.keyboard.press('Escape');
    await xh.waitFor({ state: 'detached' });
    // Business dates in the connector's zone (Asia/Kolkata), not the browser's.
    await xc.getByRole('button', { name: 'Run' }).click();
    const xrun = ny.locator('dialog[data-name="run-now"]');
    assert.equal(await xrun.getByLabel('Business date').inputValue(), '2026-03-08', 'yesterday in Asia/Kolkata, not in New York');
    await ny.keyboard.press('Escape');
    await xc.getByRole('button', { name: 'Backfill' }).click();
    const xbf = ny.locator('dialog[data-name="backfill"]');
    await xbf.getByText('today there is 2026-03-09').waitFor();
    assert.equal(await xbf.getByLabel('To date').inputValue(), '2026-03-08');
    await ny.keyboard.press('Escape');
    // The test's toast and its steps; a failed step is shown failed.
    await xc.getByRole('button', { name: 'Test' }).click();
    const xt = ny.locator('.toast', { hasText: 'Test passed:' });
    await xt.waitFor({ timeout: 60000 });
    assert.equal(await xt.locator('strong').first().textContent(), `Test passed: ${NAME}`);
    const rc = ny.locator('article.card[data-name="Refusing gen"]');
    await rc.getByRole('button', { name: 'Test Refusing gen' }).click();
    const rt = ny.locator('.toast', { hasText: 'Test failed: Refusing gen' });
    await rt.waitFor({ timeout: 60000 });
    assert.deepEqual(await rt.locator('.steps li').evaluateAll((els) => els.map((e) => e.className)), ['step-ok', 'step-bad'], 'connect passed, auth failed');
    // The delete confirmation quotes the name as text.
    await xc.getByRole('button', { name: 'Delete' }).click();
    const xconf = ny.locator('dialog[data-name="confirm"]');
    await xconf.getByText(`Delete "${NAME}"`, { exact: false }).waitFor();
    await ny.keyboard.press('Escape');
    const hostile = await ny.evaluate(() => ({
      xss: window.__xss,
      imgs: document.querySelectorAll('img').length,
      handlers: [...document.querySelectorAll('*')].filter((el) => [...el.attributes].some((a) => a.name.startsWith('on'))).length,
      bold: document.querySelectorAll('main b, dialog b, .toasts b').length,
    }));
    assert.deepEqual(hostile, { xss: undefined, imgs: 0, handlers: 0, bold: 0 }, 'no markup from the API became elements');
    await ctxNY.close();
  }

  log('a save that fails for no fault of the form (no answer, 403, 409, 500, 401 without a token) says so and keeps what was typed');
  {
    // A page of its own: these failures are provoked on purpose.
    const ctxE = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const pe = await ctxE.newPage();
    pe.setDefaultTimeout(20000);
    pe.on('pageerror', (e) => problems.push(`page error (failing saves): ${e.message}`));
    await pe.addInitScript((tk) => sessionStorage.setItem('connectord.token', tk), TOKEN);
    await pe.goto(`${URL0}/ops/connectors`);
    await pe.locator('#grid .card').first().waitFor();
    await pe.getByRole('button', { name: 'Add connector' }).click();
    const fe = pe.locator('dialog[data-name="connector-form"]');
    await fe.waitFor();
    await field(fe, 'Name').fill('Kept input');
    await field(fe, 'Source entity').fill('KEPT');
    const cases = [
      ['no answer', (r) => r.abort('internetdisconnected'), /^Not saved: Cannot reach connectord/],
      ['403', (r) => r.fulfill({ status: 403, json: { success: false, error: 'Forbidden: role viewer cannot create connectors' } }), /^Not saved: Forbidden: role viewer cannot create connectors$/],
      ['409', (r) => r.fulfill({ status: 409, json: { success: false, error: 'A connector with this name exists' } }), /^Not saved: A connector with this name exists$/],
      ['a proxy\'s 500 page', (r) => r.fulfill({ status: 500, contentType: 'text/html', body: '<html><head><title>500</title><style>h1{}</style></head><body><h1>Internal Server Error</h1></body></html>' }), /^Not saved: 500 Internal Server Error$/],
      ['401, the token prompt dismissed', (r) => r.fulfill({ status: 401, json: { success: false, error: 'Authentication required' } }), /^Not saved: Authentication required$/],
    ];
    for (const [what, answer, want] of cases) {
      const creates = /\/connectors$/;
      const handler = (r) => (r.request().method() === 'POST' ? answer(r) : r.fallback());
      await pe.route(creates, handler);
      await fe.getByRole('button', { name: 'Create connector' }).click();
      if (what.startsWith('401')) {
        const td = pe.locator('dialog[data-name="token"]');
        await td.waitFor();
        await pe.keyboard.press('Escape');
        await td.waitFor({ state: 'detached' });
      }
      await fe.locator('.form-errors', { hasText: 'Not saved' }).waitFor();
      assert.match((await fe.locator('.form-errors').textContent()).trim(), want, what);
      assert.ok(!/problem to fix/.test(await fe.locator('.form-errors').textContent()), `${what}: nothing to fix in the form`);
      assert.equal(await field(fe, 'Name').inputValue(), 'Kept input', `${what}: the input is kept`);
      assert.equal(await field(fe, 'Source entity').inputValue(), 'KEPT', `${what}: the input is kept`);
      assert.ok(await fe.getByRole('button', { name: 'Create connector' }).isEnabled(), `${what}: can be saved again`);
      await pe.unroute(creates, handler);
    }
    await ctxE.close();
  }

  log('phone-sized viewport (390x844)');
  await page.setViewportSize({ width: 390, height: 844 });
  await page.reload();
  await card('Test bank').waitFor();
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth + 1);
  assert.ok(!overflow, 'no horizontal scrolling on a phone');
  await shot(page, 'phone-grid');
  await card('Test bank').getByRole('button', { name: 'Edit Test bank' }).click();
  await dialogNamed('connector-form').waitFor();
  await shot(page, 'phone-form');
  await page.keyboard.press('Escape');

  log('no secret in any response or in the page');
  for (const r of responses) for (const s of SECRETS) assert.ok(!r.body.includes(s), `secret in the response of ${r.url}`);
  for (const s of SECRETS) assert.ok(!(await page.content()).includes(s), 'secret in the page');
  console.log(`  ${responses.length} responses checked; deliberate HTTP failures: ${failedHttp.join(', ')}`);
  assert.deepEqual(problems, [], 'console errors, page errors or unexpected HTTP failures');
  console.log('ops page: all steps passed');
} catch (e) {
  await shot(page, 'FAILED').catch(() => {});
  console.error(e);
  if (problems.length) console.error(`problems seen: ${problems.join('\n')}`);
  await browser.close();
  process.exit(1);
}
await browser.close();
