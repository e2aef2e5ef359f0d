// Drives the dashboard in headless Chromium against the fleet run_dashboard_test.py started.
// Every check asserts on what the page shows (and, for the pause, on the server's state);
// waits are for conditions with timeouts, never fixed sleeps. Screenshots go to
// $OXIDE_ARTIFACTS. Exit code 0 = pass.
'use strict';
const path = require('path');
const {chromium} = require(path.join(process.env.OXIDE_NODE_MODULES, 'playwright-core'));

const URL = process.env.OXIDE_URL;
const ADMIN = process.env.OXIDE_ADMIN_TOKEN;
const VIEWER = process.env.OXIDE_VIEWER_TOKEN;
const CAMPAIGN = process.env.OXIDE_CAMPAIGN;
const FAILED = process.env.OXIDE_FAILED_DEVICE;
const ARTIFACTS = process.env.OXIDE_ARTIFACTS;
const T = 30000;  // ms: the longest any single condition may take

function log(msg) { console.log(`[browser.js ${new Date().toISOString().slice(11, 19)}] ${msg}`); }
function check(cond, msg) {
  if (!cond) throw new Error('check failed: ' + msg);
  log('ok: ' + msg);
}

async function api(method, p, body = undefined, token = ADMIN) {
  const init = {method, headers: {Authorization: 'Bearer ' + token}};
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const r = await fetch(URL + p, init);
  return {status: r.status, body: await r.json().catch(() => null)};
}

// As api(), but a non-2xx answer fails the test.
async function apiOk(method, p, body) {
  const r = await api(method, p, body);
  if (r.status < 200 || r.status > 299) {
    throw new Error(`${method} ${p} -> ${r.status}: ${JSON.stringify(r.body)}`);
  }
  return r.body;
}

async function login(page, token) {
  await page.locator('#login').waitFor({state: 'visible', timeout: T});
  await page.fill('#token', token);
  await page.click('#login button[type=submit]');
}

async function shot(page, name) {
  const file = path.join(ARTIFACTS, name);
  await page.screenshot({path: file, fullPage: true});
  log('screenshot ' + file);
}

// Polls `fn` (Node side; page.waitForFunction would need 'unsafe-eval', which the page's CSP
// rightly forbids) until it returns a truthy value or `timeout` ms pass.
async function until(what, fn, timeout = T) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error('timed out waiting for ' + what);
    await new Promise((r) => setTimeout(r, 100));  // the polling period of a deadline wait
  }
}

const percent = (text) => Number((/([\d.]+)%/.exec(text) || [])[1]);

async function main() {
  const browser = await chromium.launch({
    executablePath: process.env.OXIDE_CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox'], headless: true});
  const errors = [];
  let page = null;
  try {
    page = await browser.newPage({viewport: {width: 1366, height: 768}});
    page.on('pageerror', (e) => errors.push(String(e)));

    // --- login: a wrong token is refused, the admin's is accepted ---
    await page.goto(URL + '/', {timeout: T});
    check(await page.title() === 'Oxide dashboard', 'the page is served at /');
    await login(page, 'oxide_' + 'A'.repeat(43));
    await page.locator('#login-error').filter({hasText: 'refused'}).waitFor({timeout: T});
    check(await page.locator('#nav').isHidden(), 'a refused token stays on the login form');
    await login(page, ADMIN);
    await page.locator('#who[data-role=admin]').waitFor({timeout: T});
    check(true, 'signed in as admin');
    // The server has the event stream: the page follows it (no 2 s polling).
    await page.locator('#live[data-mode=live]').waitFor({timeout: T});
    const liveText = await page.locator('#live').textContent();
    check(/live/.test(liveText) && !/polling/.test(liveText),
          `the header shows live events ("${liveText}")`);

    // --- fleet: four devices, the running campaign, the failed device's cause ---
    const devices = page.locator('[data-testid=devices] tbody tr[data-device]');
    await until('four device rows', async () => await devices.count() === 4);
    const ids = await devices.evaluateAll((rows) => rows.map((r) => r.dataset.device));
    check(['cam-bad', 'cam-fast', 'cam-slow-1', 'cam-slow-2'].every((d) => ids.includes(d)),
          'the fleet view lists the four devices: ' + ids.join(', '));
    const online = await page.locator('[data-testid=devices] [data-state=online]').count();
    check(online === 4, `all four are shown online (${online})`);
    const running = page.locator(`[data-testid=active-campaigns] tr[data-campaign="${CAMPAIGN}"]`);
    await running.locator('[data-state=rolling_out]').waitFor({timeout: T});
    check(true, 'the fleet view shows the running campaign ' + CAMPAIGN);
    const cause = page.locator(`tr[data-device="${FAILED}"] [data-testid=last-error]`);
    await cause.filter({hasText: 'health check'}).waitFor({timeout: T});
    check(true, `${FAILED}'s last error is shown: "${(await cause.textContent()).slice(0, 80)}"`);
    const platform = await page.locator(`tr[data-device="${FAILED}"] td`).nth(5).textContent();
    check(/linux/.test(platform), `the list shows each device's platform ("${platform}")`);
    // Numeric columns: the header stands over its values (both right-aligned).
    const align = await page.locator('[data-testid=fleets]').evaluate((t) => {
      const i = [...t.tHead.rows[0].cells].findIndex((th) => th.textContent === 'devices');
      const cell = t.tBodies[0].rows[0].cells[i];
      return [getComputedStyle(t.tHead.rows[0].cells[i]).textAlign, getComputedStyle(cell).textAlign];
    });
    check(align[0] === align[1], `the fleets table's numeric header and values align (${align})`);
    await shot(page, 'fleet-running-campaign.png');

    // --- the campaign's page: progress moves, per-device cause, first failure ---
    await running.locator('a').first().click();
    const label = page.locator('[data-testid=campaign-progress] .bar-label');
    await label.waitFor({timeout: T});
    const before = percent(await label.textContent());
    check(before >= 0 && before < 100, `campaign progress shown: ${before}%`);
    // Agents report download progress every few seconds: allow several reports.
    await until('the progress to move', async () => percent(await label.textContent()) > before,
                2 * T);
    check(true, `the progress bar moved on its own: ${before}% -> ${
        percent(await label.textContent())}%`);
    const bad = page.locator(`[data-testid=campaign-devices] tr[data-device="${FAILED}"]`);
    check(await bad.getAttribute('data-state') === 'rolled_back', `${FAILED} is rolled back`);
    const why = await bad.locator('[data-testid=cause]').textContent();
    check(/health check/.test(why), `its cause is shown: "${why.slice(0, 80)}"`);
    const first = await page.locator('[data-testid=first-failure]').textContent();
    check(first.includes(FAILED) && /health check/.test(first),
          'the first failure names the device and the cause');
    check(await page.locator('[data-testid=campaign-devices] [data-state=downloading]').count() >= 1,
          'devices are shown downloading');
    await shot(page, 'campaign-running.png');

    // --- pause from the page: the page and the server agree ---
    await page.click('button[data-action=pause]');
    await page.locator('h1 [data-state=paused]').waitFor({timeout: T});
    await page.locator('button[data-action=resume]').waitFor({timeout: T});
    check(await page.locator('button[data-action=pause]').count() === 0,
          'the page shows the campaign paused (Resume offered, Pause gone)');
    const server = await api('GET', '/api/v1/campaigns/' + CAMPAIGN);
    check(server.body.state === 'paused', `the server's state is paused (${server.body.state})`);
    await shot(page, 'campaign-paused.png');

    // --- models and bandwidth views show content ---
    await page.click('#nav a[data-view=models]');
    await page.locator('[data-testid=models] a', {hasText: 'detector'}).click();
    await until('two versions', async () =>
      await page.locator('[data-testid=versions] tbody tr').count() === 2);
    const versions = await page.locator('[data-testid=versions] tbody').textContent();
    check(/v1/.test(versions) && /v2/.test(versions) && /8\.00 MB/.test(versions),
          'the model page lists v1 and v2 with their sizes');
    const patch = page.locator('[data-testid=patches] tbody tr', {hasText: 'v1 → v2'});
    await patch.waitFor({timeout: T});
    check(await patch.locator('[data-state]').count() === 1,
          `the patch v1 → v2 is listed with its state (${
              await patch.locator('[data-state]').getAttribute('data-state')})`);
    await shot(page, 'model.png');
    await page.click('#nav a[data-view=bandwidth]');
    const money = page.locator('[data-testid=money]');
    await money.waitFor({timeout: T});
    // The real series (run_dashboard_test.py starts the server with --price-per-gb 0.05
    // --currency EUR): no note about a missing endpoint, one bar per bucket of the series.
    await page.locator('[data-testid=bandwidth-chart]').waitFor({timeout: T});
    check(await page.locator('[data-testid=bandwidth-unavailable]').count() === 0,
          'no "not available" note: the page reads GET /api/v1/stats/bandwidth');
    const now = Math.floor(Date.now() / 1000);
    const real = await apiOk('GET', `/api/v1/stats/bandwidth?bucket=hour&from=${
        now - 48 * 3600}&to=${now}`);
    const served = real.series.filter((p) => p.bytes_served > 0);
    check(served.length >= 1, `the server's series has downloads (${served.length} buckets)`);
    const bars = page.locator('[data-testid=bandwidth-chart] rect.sent');
    await until('one bar per bucket of the series', async () =>
      await bars.count() === real.series.length);
    const heights = await bars.evaluateAll((rs) => rs.map((r) => Number(r.getAttribute('height'))));
    check(heights.filter((h) => h > 0).length === served.length,
          `the chart draws the server's series: ${heights.length} bars, ${
              served.length} with bytes sent`);
    await page.click('text=use the server\'s price');
    await money.filter({hasText: 'EUR'}).waitFor({timeout: T});
    check(await page.locator('text=use the server\'s price (0.05 EUR)').count() === 1,
          "the server's price and currency are offered (0.05 EUR)");
    await page.fill('#price', '1000');
    const sent = await money.locator('.card').first().textContent();
    check(/[1-9][\d.]* EUR/.test(sent), `bandwidth in money at 1000 EUR/GB: "${sent}"`);
    await shot(page, 'bandwidth.png');
    await page.click('text=use the server\'s price');  // leave no price override behind

    // --- a device's page: inventory, tags, and its history has the failed attempt ---
    await apiOk('PUT', `/api/v1/devices/${FAILED}/tags`, {site: 'lyon', rack: 'b2'});
    await page.goto(URL + '/#/devices/' + encodeURIComponent(FAILED));
    const hist = page.locator('[data-testid=history] tbody tr').first();
    await hist.filter({hasText: 'health check'}).waitFor({timeout: T});
    check(await hist.locator('[data-state=rolled_back]').count() === 1,
          `${FAILED}'s page lists the rolled-back attempt and its cause`);
    const fact = async (k) => (await page.locator(
        `[data-testid=device-facts] dd[data-fact="${k}"]`).textContent()).trim();
    const facts = {};
    for (const k of ['platform', 'agent', 'free disk', 'attributes', 'tags']) facts[k] = await fact(k);
    check(/linux/.test(facts.platform) && facts.agent !== '–' && /\d.* [KMGT]?B$/.test(facts['free disk']),
          `the device page shows the agent's inventory: ${JSON.stringify(facts)}`);
    check(/camera=imx477/.test(facts.attributes), 'and its --inventory-file attributes');
    check(/rack=b2/.test(facts.tags) && /site=lyon/.test(facts.tags), 'and its tags');
    await shot(page, 'device.png');

    // --- approval: a canary campaign waits in awaiting_approval; Approve moves it on ---
    // Two devices of their own fleet whose heartbeats the test writes as an operator (the
    // server takes an admin's heartbeat for the device's), so the canary wave completes at once.
    const model = await apiOk('GET', '/api/v1/models/detector');
    const sha = Object.fromEntries((model.versions || []).map((v) => [v.version, v.sha256]));
    const beat = (id, version) => apiOk('POST', `/api/v1/devices/${id}/heartbeat`, {
      status: 'online', current_model: 'detector', current_model_version: version,
      models: [{model_id: 'detector', version, sha256: sha[version]}]});
    await apiOk('POST', '/api/v1/fleets', {id: 'lab', name: 'lab'});
    for (const id of ['lab-1', 'lab-2']) {
      await apiOk('POST', '/api/v1/devices', {id, name: id});
      await apiOk('POST', `/api/v1/fleets/lab/devices/${id}`);
      await apiOk('PUT', `/api/v1/devices/${id}/tags`, {bench: 'yes'});
      await beat(id, 'v1');
    }
    const canary = await apiOk('POST', '/api/v1/campaigns', {
      model_id: 'detector', model_version: 'v2', fleet_id: 'lab', strategy: 'canary',
      canary_percent: 50, require_approval: true, target: {tags: {bench: 'yes'}}});
    const wave = await until('the canary device to be assigned', async () => {
      const c = await apiOk('GET', '/api/v1/campaigns/' + canary.id);
      return (c.devices || []).find((d) => d.state === 'pending');
    });
    await beat(wave.device_id, 'v2');
    await until('awaiting_approval', async () =>
      (await apiOk('GET', '/api/v1/campaigns/' + canary.id)).state === 'awaiting_approval');
    await page.goto(URL + '/#/campaigns/' + encodeURIComponent(canary.id));
    await page.locator('h1 [data-state=awaiting_approval]').waitFor({timeout: T});
    check(await page.locator('button[data-action=approve]').count() === 1,
          `the canary campaign ${canary.id} waits for approval and offers Approve`);
    check(await page.locator('[data-testid=approval-note]').count() === 1 &&
              /bench=yes/.test(await page.locator('[data-testid=campaign-target]').textContent()),
          'its page says it waits for approval and shows its target (tags bench=yes)');
    await shot(page, 'campaign-awaiting-approval.png');
    await page.click('button[data-action=approve]');
    await page.locator('h1 [data-state=rolling_out]').waitFor({timeout: T});
    const approved = await apiOk('GET', '/api/v1/campaigns/' + canary.id);
    check(approved.state === 'rolling_out' && approved.approved_at,
          `Approve moved it on: the server says ${approved.state}, approved at ${
              approved.approved_at}`);
    check(approved.devices.every((d) => d.state !== 'waiting'),
          'the rest of the fleet is assigned');
    await page.locator('[data-testid=campaign-facts] dd', {hasText: 'approved'}).waitFor({timeout: T});
    check(await page.locator('[data-testid=approval-note]').count() === 0,
          'the page says when it was approved');
    await page.click('#nav a[data-view=campaigns]');
    const listed = page.locator(`[data-testid=campaigns] tr[data-campaign="${canary.id}"]`);
    await listed.waitFor({timeout: T});
    check(/lab ∩ bench=yes/.test(await listed.textContent()) &&
              /approval/.test(await listed.textContent()),
          'the campaign list shows its fleet, target and that it needs approval');
    await shot(page, 'campaigns.png');

    // --- log out; a viewer sees everything and no write control ---
    await page.click('#logout');
    await page.locator('#login').waitFor({state: 'visible', timeout: T});
    check(await page.evaluate(() => sessionStorage.getItem('oxide.token')) === null,
          'logging out forgets the token');
    await login(page, VIEWER);
    await page.locator('#who[data-role=viewer]').waitFor({timeout: T});
    await page.goto(URL + '/#/campaigns/' + encodeURIComponent(CAMPAIGN));
    await page.locator('[data-testid=campaign-devices] tr[data-device]').first()
        .waitFor({timeout: T});
    check(await page.locator('h1 [data-state=paused]').count() === 1,
          'the viewer sees the campaign (paused)');
    check(await page.locator('button[data-action]').count() === 0 &&
              await page.locator('[data-testid=campaign-actions]').count() === 0,
          'the viewer sees no pause/resume/abort/approve button');
    await shot(page, 'viewer-campaign.png');
    await page.locator('#live[data-mode=live]').waitFor({timeout: T});
    check(true, 'the viewer follows the event stream too');
    check(errors.length === 0, 'no uncaught error in the page' +
          (errors.length ? ': ' + errors.join('; ') : ''));
  } catch (e) {
    // What the page showed when a check failed.
    if (page) await shot(page, 'failure.png').catch(() => {});
    throw e;
  } finally {
    await browser.close();
  }
}

main().then(() => log('PASS'), (e) => {
  log('FAIL: ' + (e && e.stack || e));
  process.exit(1);
});
