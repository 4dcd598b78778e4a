#!/usr/bin/env node
// The web dashboard of `switchboard serve` in headless Chromium (driven by
// playwright-core): a bad token gets a clear message; the real token logs
// in; the page shows the registered phones, then a call between them with
// a timer that runs, then the call gone after the hang-up — all pushed to
// the page, never reloaded. The phones are the caller's (crates/cli/tests/
// dashboard.rs): this script prints `STEP registered` when the page shows
// both registrations (the caller then dials) and `STEP call-seen` when it
// saw the call's timer advance (the caller then hangs up).
//
// Prints one line per check and `N passed, M failed` last; exit status 0
// only when nothing failed. Bounded by --timeout (whole run, hard).
//
// Usage: node dashboard.mjs --url http://127.0.0.1:PORT --token TOKEN
//   --users alice,bob  --gateways sip:GW1=up,sip:GW2=down
//   --out DIR (screenshots)  --timeout 150
//   --step-timeout 30  --chromium /usr/bin/chromium
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const T0 = Date.now();

function parseArgs(argv) {
  const flags = {};
  for (let i = 0; i < argv.length; i += 2) {
    if (!argv[i].startsWith('--') || argv[i + 1] === undefined) throw new Error(`bad argument ${argv[i]}`);
    flags[argv[i].slice(2)] = argv[i + 1];
  }
  return flags;
}
const F = parseArgs(process.argv.slice(2));
const cfg = {
  url: String(F.url || 'http://127.0.0.1:8089').replace(/\/$/, ''),
  token: F.token || '',
  users: String(F.users || 'alice,bob').split(','),
  // URI=health pairs: the trunk's gateways and the health each must show.
  gateways: String(F.gateways || '').split(',').filter(Boolean).map((g) => g.split('=')),
  out: path.resolve(F.out || 'out'),
  timeoutS: Number(F.timeout || 150),
  stepS: Number(F['step-timeout'] || 30),
  chromium: F.chromium || '/usr/bin/chromium',
};
fs.mkdirSync(cfg.out, { recursive: true });

const info = (m) => console.log(`#${((Date.now() - T0) / 1000).toFixed(1).padStart(6)}s ${m}`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const results = [];
function record(name, ok, detail = '') {
  results.push({ name, ok });
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${name}${detail ? ` -- ${detail}` : ''}`);
  return ok;
}
// One check: fn returns {ok, detail} or throws; bounded by the step timeout.
async function check(name, fn) {
  try {
    const r = await Promise.race([
      fn(),
      sleep(cfg.stepS * 1000).then(() => { throw new Error(`timed out after ${cfg.stepS}s`); }),
    ]);
    return record(name, !!r.ok, r.detail || '');
  } catch (e) {
    return record(name, false, String((e && e.message) || e).split('\n')[0]);
  }
}
function summary() {
  const passed = results.filter((r) => r.ok).length;
  console.log(`\n${passed} passed, ${results.length - passed} failed`);
  return passed > 0 && passed === results.length ? 0 : 1;
}

let context = null;
let profile = null;
async function cleanup() {
  if (context) await Promise.race([context.close().catch(() => {}), sleep(10000)]);
  context = null;
  if (profile) fs.rmSync(profile, { recursive: true, force: true });
  profile = null;
}

const shot = async (page, name) => {
  const file = path.join(cfg.out, name);
  await page.screenshot({ path: file, fullPage: true });
  info(`screenshot ${file}`);
};

// The rows of a table as arrays of cell texts.
const rows = (page, id) => page.$$eval(`#${id} tbody tr:not(.empty)`, (trs) =>
  trs.map((tr) => Array.from(tr.cells, (td) => td.textContent)));
const seconds = (text) => text.split(':').reduce((acc, part) => acc * 60 + Number(part), 0);

async function main() {
  const { chromium } = await import('playwright-core');
  profile = fs.mkdtempSync(path.join(os.tmpdir(), 'dashboard-chromium-'));
  context = await chromium.launchPersistentContext(profile, {
    executablePath: cfg.chromium,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--disable-background-timer-throttling', '--disable-renderer-backgrounding'],
    viewport: { width: 1100, height: 900 },
    timeout: 30000,
  });
  const page = await context.newPage();
  const origin = new URL(cfg.url).origin;
  const elsewhere = [];
  const problems = [];
  page.on('request', (r) => { if (new URL(r.url()).origin !== origin) elsewhere.push(r.url()); });
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && !/401/.test(m.text())) problems.push(`console: ${m.text()}`);
  });
  let navigations = 0;
  page.on('framenavigated', (f) => { if (f === page.mainFrame()) navigations += 1; });

  await check('the dashboard asks for a token', async () => {
    const response = await page.goto(`${cfg.url}/dashboard`, { timeout: 15000 });
    const csp = response.headers()['content-security-policy'] || '';
    await page.waitForSelector('#login:not([hidden])', { timeout: 10000 });
    return { ok: response.status() === 200 && csp.includes("default-src 'none'"), detail: `status ${response.status()}, CSP ${csp}` };
  });

  await check('a bad token shows a clear message', async () => {
    await page.fill('#token', 'not-a-valid-token');
    await page.click('#login-form button[type=submit]');
    await page.waitForSelector('#login-error:not([hidden])', { timeout: 10000 });
    const text = await page.textContent('#login-error');
    const board = await page.isVisible('#board');
    return { ok: /refused/.test(text) && /not valid/.test(text) && !board, detail: text };
  });
  await shot(page, 'dashboard-bad-token.png');

  const logged = await check('the real token logs in and the feed is live', async () => {
    await page.fill('#token', cfg.token);
    await page.click('#login-form button[type=submit]');
    await page.waitForSelector('#board:not([hidden])', { timeout: 10000 });
    await page.waitForFunction(() => document.getElementById('connection').textContent === 'live', null, { timeout: 10000 });
    const kept = await page.evaluate(() => sessionStorage.getItem('switchboard-token'));
    // A mark that a reload would wipe out.
    await page.evaluate(() => { window.notReloaded = true; });
    return { ok: kept === cfg.token, detail: kept === cfg.token ? 'token kept in sessionStorage' : 'token not kept' };
  });
  if (!logged) return;

  const registered = await check('the page shows both phones registered', async () => {
    await page.waitForFunction((users) => {
      const text = document.querySelector('#registrations tbody').textContent;
      return users.every((u) => text.includes(`${u}@`));
    }, cfg.users, { timeout: cfg.stepS * 1000, polling: 200 });
    const list = await rows(page, 'registrations');
    const count = await page.textContent('#registrations-count');
    const ok = list.length === cfg.users.length && count === String(cfg.users.length)
      && list.every((r) => r[2] === 'udp' && r[1].startsWith('sip:') && seconds(r[3]) > 0);
    return { ok, detail: JSON.stringify(list) };
  });
  await check('the trunk shows each gateway up or down', async () => {
    await page.waitForFunction((gateways) => {
      const shown = Array.from(document.querySelectorAll('#trunks tbody tr'), (tr) => Array.from(tr.cells, (td) => td.textContent));
      return gateways.every(([uri, health]) => shown.some((r) => r[1] === uri && r[2] === health));
    }, cfg.gateways, { timeout: cfg.stepS * 1000, polling: 200 });
    return { ok: true, detail: JSON.stringify(await rows(page, 'trunks')) };
  });
  await shot(page, 'dashboard-registered.png');
  console.log('STEP registered');
  if (!registered) return;

  const [caller, callee] = cfg.users;
  const seen = await check('the call appears with a running timer', async () => {
    await page.waitForSelector('#calls td.duration[data-since]', { timeout: cfg.stepS * 1000 });
    const first = await rows(page, 'calls');
    const t1 = seconds(first[0][3]);
    await sleep(2500);
    const second = await rows(page, 'calls');
    const t2 = seconds(second[0][3]);
    const ok = first.length === 1 && first[0][0].includes(caller) && first[0][1].includes(callee)
      && first[0][2] === 'answered' && t2 >= t1 + 2;
    return { ok, detail: `${JSON.stringify(first[0])}; timer ${first[0][3]} then ${second[0][3]}` };
  });
  await shot(page, 'dashboard-call.png');
  console.log('STEP call-seen');
  if (!seen) return;

  await check('the chart counts the call and the registrations', async () => {
    const calls = await page.getAttribute('#chart-calls', 'data-totals');
    const regs = await page.getAttribute('#chart-registrations', 'data-totals');
    const n = (text, key) => Number((text.match(new RegExp(`${key}=(\\d+)`)) || [])[1]);
    const ok = n(calls, 'calls') >= 1 && n(calls, 'answered') >= 1 && n(regs, 'registrations') >= cfg.users.length;
    return { ok, detail: `${calls}; ${regs}` };
  });

  await check('after the hang-up the call is gone', async () => {
    await page.waitForFunction(() => document.getElementById('calls-count').textContent === '0'
      && document.querySelector('#calls tbody tr.empty') !== null, null, { timeout: cfg.stepS * 1000, polling: 200 });
    return { ok: (await rows(page, 'calls')).length === 0 };
  });
  await shot(page, 'dashboard-ended.png');

  await check('all of it without a reload, from this origin only, no error', async () => {
    const mark = await page.evaluate(() => window.notReloaded === true);
    const ok = mark && navigations === 1 && elsewhere.length === 0 && problems.length === 0;
    return { ok, detail: `navigations ${navigations}; elsewhere ${JSON.stringify(elsewhere)}; problems ${JSON.stringify(problems)}` };
  });
}

// The whole run against its deadline; Chromium closed and the summary
// printed whatever happened (a close that hangs does not hold the exit).
async function run() {
  let timer;
  const deadline = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`overall timeout of ${cfg.timeoutS}s`)), cfg.timeoutS * 1000);
  });
  try {
    await Promise.race([main(), deadline]);
  } catch (e) {
    record('the run', false, String((e && e.stack) || e).split('\n').slice(0, 3).join(' | '));
  }
  clearTimeout(timer);
  setTimeout(() => process.exit(1), 15000).unref();
  await cleanup();
  process.exit(summary());
}

run();
