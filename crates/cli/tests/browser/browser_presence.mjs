#!/usr/bin/env node
// Presence in a real browser SIP library: JsSIP (3.13) in headless
// Chromium connects over WebSocket (RFC 7118) and SUBSCRIBEs to a user's
// presence (RFC 3856) through the server, with digest authentication;
// the first NOTIFY must carry application/pidf+xml saying what the test
// published for the user beforehand (`--expect`, regular expressions
// that must all match the body); then JsSIP unsubscribes and must see
// its subscription terminated.
//
// Prints one line per check (`ok  ...` / `FAIL ...`) and `N passed, M
// failed` last; exit status 0 only if nothing failed.
//
// Usage: node browser_presence.mjs --ws-url ws://127.0.0.1:PORT --domain D
//          --user alice --pass PW --target sip:bob@D
//          [--expect '<basic>open</basic>' --expect 'away'] [--http-port N]
//          [--chromium /usr/bin/chromium] [--timeout 40] [--out DIR]
import http from 'node:http';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));

const F = { expect: [] };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i += 2) {
  const k = argv[i].replace(/^--/, '');
  if (k === 'expect') F.expect.push(argv[i + 1]); else F[k] = argv[i + 1];
}
const cfg = {
  wsUrl: F['ws-url'] || 'ws://127.0.0.1:5090',
  user: F.user || 'alice',
  pass: F.pass || 'alice-secret',
  target: F.target,
  expect: F.expect.length ? F.expect : ['<basic>open</basic>'],
  httpPort: Number(F['http-port'] || 8091),
  chromium: F.chromium || '/usr/bin/chromium',
  timeoutS: Number(F.timeout || 40),
  outDir: path.resolve(F.out || path.join(HERE, 'out')),
};
cfg.domain = F.domain || new URL(cfg.wsUrl).hostname;
if (!cfg.target) { console.error('--target sip:user@domain is required'); process.exit(2); }
fs.mkdirSync(cfg.outDir, { recursive: true });

let passed = 0; let failed = 0;
function record(name, ok, detail = '') {
  if (ok) passed++; else failed++;
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${name}${detail ? ' -- ' + detail : ''}`);
  return ok;
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
// The whole run is bounded: past the limit, report and leave.
setTimeout(() => { record('whole run within the time limit', false); finish(); }, cfg.timeoutS * 1000).unref();

async function jssipBundle() {
  const esbuild = await import('esbuild');
  const r = await esbuild.build({
    entryPoints: [path.join(HERE, 'node_modules/jssip/lib/JsSIP.js')],
    bundle: true, format: 'iife', globalName: 'JsSIP', platform: 'browser',
    target: 'es2020', write: false, logLevel: 'silent',
  });
  return r.outputFiles[0].text;
}

// The page: JsSIP, and a watcher that records what its subscription sees.
const PAGE = `<!doctype html><meta charset="utf-8"><title>presence</title>
<script src="/lib/jssip.js"></script>
<script>
window.events = [];
window.watch = (o) => {
  JsSIP.debug.disable('JsSIP:*');
  const socket = new JsSIP.WebSocketInterface(o.wsUrl);
  const ua = new JsSIP.UA({ sockets: [socket], uri: 'sip:' + o.user + '@' + o.domain,
    password: o.pass, register: false, user_agent: 'presence-interop JsSIP/' + JsSIP.version });
  window.ua = ua;
  ua.on('connected', () => {
    const sub = ua.subscribe(o.target, 'presence', 'application/pidf+xml',
      { expires: 120, contentType: 'application/pidf+xml' });
    window.sub = sub;
    sub.on('accepted', () => events.push({ kind: 'accepted' }));
    sub.on('notify', (isFinal, request, body, contentType) => events.push({ kind: 'notify', isFinal,
      body: body || '', contentType: contentType || '', state: request.getHeader('Subscription-State') }));
    sub.on('terminated', (code, reason) => events.push({ kind: 'terminated', code, reason: String(reason || '') }));
    sub.subscribe();
  });
  ua.start();
  return JsSIP.version;
};
</script>`;

let server = null; let browser = null;
async function finish() {
  console.log(`${passed} passed, ${failed} failed`);
  try { if (browser) await Promise.race([browser.close(), sleep(5000)]); } catch (e) { /* leaving anyway */ }
  if (server) server.close();
  process.exit(failed === 0 && passed > 0 ? 0 : 1);
}

// The first event from index `from` on that `pred` accepts.
async function waitEvent(page, pred, seconds, from = 0) {
  const until = Date.now() + seconds * 1000;
  while (Date.now() < until) {
    const events = await page.evaluate(() => window.events);
    const found = events.slice(from).find(pred);
    if (found) return { found, events };
    await sleep(100);
  }
  return { found: null, events: await page.evaluate(() => window.events) };
}

async function main() {
  const bundle = await jssipBundle();
  server = http.createServer((req, res) => {
    if (req.url.startsWith('/lib/jssip.js')) {
      res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8' });
      return res.end(bundle);
    }
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    return res.end(PAGE);
  });
  await new Promise((resolve, reject) => { server.once('error', reject); server.listen(cfg.httpPort, '127.0.0.1', resolve); });
  const { chromium } = await import('playwright-core');
  browser = await chromium.launch({
    executablePath: cfg.chromium, headless: true, timeout: 30000,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', ...(cfg.wsUrl.startsWith('wss:') ? ['--ignore-certificate-errors'] : [])],
  });
  const page = await browser.newPage();
  const consoleLog = fs.createWriteStream(path.join(cfg.outDir, 'presence.console.log'));
  page.on('console', (m) => consoleLog.write(`${m.type()}: ${m.text()}\n`));
  await page.goto(`http://127.0.0.1:${cfg.httpPort}/`, { timeout: 15000 });
  const version = await page.evaluate((o) => window.watch(o), cfg);
  record(`page loads JsSIP ${version}`, true);

  let r = await waitEvent(page, (e) => e.kind === 'accepted' || e.kind === 'terminated', 15);
  record(`SUBSCRIBE to ${cfg.target} (Event: presence) accepted with 2xx after digest auth`,
    r.found && r.found.kind === 'accepted', r.found ? JSON.stringify(r.found) : 'no answer');

  r = await waitEvent(page, (e) => e.kind === 'notify', 10);
  const first = r.found;
  record('a NOTIFY came with application/pidf+xml', !!first && /application\/pidf\+xml/i.test(first.contentType),
    first ? `${first.contentType} ${first.state}` : JSON.stringify(r.events));
  const body = first ? first.body : '';
  const missing = cfg.expect.filter((re) => !new RegExp(re).test(body));
  record(`the PIDF says what was published (${cfg.expect.join(', ')})`, !!first && missing.length === 0,
    missing.length ? `missing ${missing.join(', ')} in ${body.replace(/\s+/g, ' ').slice(0, 400)}` : '');
  record('the subscription is active', !!first && /^active/i.test(first.state || ''), first ? first.state : '');

  const before = (await page.evaluate(() => window.events)).length;
  const wasLive = !r.events.some((e) => e.kind === 'terminated');
  await page.evaluate(() => { try { window.sub.terminate(); } catch (e) { /* already over */ } });
  r = await waitEvent(page, (e) => e.kind === 'terminated', 10, before);
  r.found = wasLive ? r.found : null;
  record('unsubscribed (Expires: 0): the subscription ends', !!r.found,
    r.found ? `code ${r.found.code} ${r.found.reason}` : 'no end');
  await page.evaluate(() => window.ua.stop());
  await finish();
}

main().catch((e) => { record('run', false, String(e && e.message || e).split('\n')[0]); finish(); });
