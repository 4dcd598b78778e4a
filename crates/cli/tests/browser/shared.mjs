// What the browser check scripts share (browser_call.mjs, browser_media.mjs):
// flags, the check bookkeeping (one `ok  ` / `FAIL` line per check and
// `N passed, M failed` last), the JsSIP bundle and the static server of
// page/, Chromium started on a fresh profile and every one of its
// processes ended.
import http from 'node:http';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const HERE = path.dirname(fileURLToPath(import.meta.url));

// ------------------------------------------------------------ flags
// `--k v`, `--k=v`, and `--k` alone (true).
export function parseArgs(argv) {
  const flags = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) throw new Error(`unexpected argument ${a}`);
    const eq = a.indexOf('=');
    if (eq > 0) { flags[a.slice(2, eq)] = a.slice(eq + 1); continue; }
    const k = a.slice(2);
    const next = argv[i + 1];
    if (next === undefined || next.startsWith('--')) flags[k] = true; else { flags[k] = next; i++; }
  }
  return flags;
}
// The comment block at the top of `script` (its usage), when --help.
export function printUsage(scriptUrl) {
  const src = fs.readFileSync(fileURLToPath(scriptUrl), 'utf8').split('\n');
  console.log(src.slice(1, src.findIndex((l) => l.startsWith('import'))).map((l) => l.replace(/^\/\/ ?/, '')).join('\n'));
}
export const truthy = (v) => v === true || v === '1' || v === 'true' || v === 'yes';

// ------------------------------------------------------------ time
const T0 = Date.now();
const elapsed = () => ((Date.now() - T0) / 1000).toFixed(1).padStart(6);
export const info = (m) => console.log(`#${elapsed()}s ${m}`);
export function sleep(ms) { return new Promise((r) => setTimeout(r, ms)); }
export function timeout(ms, what) {
  return new Promise((_, rej) => setTimeout(() => rej(new Error(`timed out after ${ms / 1000}s: ${what}`)), ms).unref());
}

// ------------------------------------------------------------ checks
export class Checks {
  constructor(stepS) {
    this.stepS = stepS;
    this.results = [];    // {name, ok, detail}
    this.deadlineHit = false;
  }
  record(name, ok, detail = '') {
    this.results.push({ name, ok, detail });
    console.log(`${ok ? 'ok  ' : 'FAIL'} ${name}${detail ? ' -- ' + detail : ''}`);
    return ok;
  }
  // Runs one check: fn returns {ok, detail} or throws; bounded by the step
  // timeout (or `stepS` of its own); not run when a check it needs failed.
  async check(name, fn, { needs = [], stepS = this.stepS } = {}) {
    const missing = needs.filter((n) => !n.ok);
    if (missing.length) return this.record(name, false, `not run: needs "${missing.map((m) => m.name).join('", "')}"`) && false;
    if (this.deadlineHit) return this.record(name, false, 'not run: overall timeout');
    try {
      const r = await Promise.race([fn(), timeout(stepS * 1000, name)]);
      return this.record(name, !!r.ok, r.detail || '');
    } catch (e) {
      return this.record(name, false, String(e && e.message || e).split('\n')[0]);
    }
  }
  gate(name) { const r = this.results.filter((x) => x.name === name).pop(); return { name, ok: !!(r && r.ok) }; }
  // Prints the count line; the exit status.
  summary() {
    const passed = this.results.filter((r) => r.ok).length;
    const failed = this.results.length - passed;
    console.log(`\n${passed} passed, ${failed} failed`);
    return failed === 0 && passed > 0 ? 0 : 1;
  }
}

// ------------------------------------------------------------ static server
export async function buildJsSip() {
  const esbuild = await import('esbuild');
  const r = await esbuild.build({
    entryPoints: [path.join(HERE, 'node_modules/jssip/lib/JsSIP.js')],
    bundle: true, format: 'iife', globalName: 'JsSIP', platform: 'browser',
    target: 'es2020', write: false, logLevel: 'silent', minify: false,
  });
  return r.outputFiles[0].text;
}
// page/ on 127.0.0.1:port, the JsSIP bundle at /lib/jssip.js and SIP.js
// from node_modules.
export function startStatic(jssipBundle, port) {
  const pageDir = path.join(HERE, 'page');
  const sipjsDir = path.join(HERE, 'node_modules/sip.js');
  const types = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css', '.png': 'image/png', '.map': 'application/json' };
  const server = http.createServer((req, res) => {
    const u = new URL(req.url, 'http://127.0.0.1');
    const p = decodeURIComponent(u.pathname);
    let file = null;
    if (p === '/favicon.ico') { res.writeHead(204); return res.end(); }
    if (p === '/lib/jssip.js') {
      res.writeHead(200, { 'content-type': types['.js'], 'cache-control': 'no-store' });
      return res.end(jssipBundle);
    } else if (p === '/' || p === '/index.html') file = path.join(pageDir, 'index.html');
    else if (p.startsWith('/node_modules/sip.js/')) file = path.join(sipjsDir, p.slice('/node_modules/sip.js/'.length));
    else file = path.join(pageDir, p);
    const root = p.startsWith('/node_modules/sip.js/') ? sipjsDir : pageDir;
    if (!file || !path.resolve(file).startsWith(root + path.sep) || !fs.existsSync(file) || !fs.statSync(file).isFile()) {
      res.writeHead(404, { 'content-type': 'text/plain' });
      return res.end('not found');
    }
    res.writeHead(200, { 'content-type': types[path.extname(file)] || 'application/octet-stream', 'cache-control': 'no-store' });
    fs.createReadStream(file).pipe(res);
  });
  server.stop = () => { server.closeAllConnections?.(); server.close(); };
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

// ------------------------------------------------------------ browser
// Chromium on a fresh profile with fake media devices. `loopbackIce`: ICE
// sockets bound to 0.0.0.0, so the page can advertise them as 127.0.0.1
// (see page/harness.js) and media never goes to a non-loopback address;
// `insecure`: wss:// to a self-signed certificate; `extraArgs` more
// switches (a fake capture file, ...). Returns {context, close()}: close
// ends the browser and kills any of its processes left (found by the
// profile's path on their command line), then removes the profile.
export async function launchBrowser({ chromium, loopbackIce = true, insecure = false, extraArgs = [] }) {
  const { chromium: pwChromium } = await import('playwright-core');
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sipws-chromium-'));
  const args = [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream',
    // no mDNS host-name obfuscation of ICE candidates (would be multicast)
    '--disable-features=WebRtcHideLocalIpsWithMdns',
    '--autoplay-policy=no-user-gesture-required',
    '--disable-background-timer-throttling', '--disable-renderer-backgrounding',
    '--disable-backgrounding-occluded-windows',
    ...extraArgs,
  ];
  if (loopbackIce) args.push('--webrtc-ip-handling-policy=default_public_and_private_interfaces');
  if (insecure) args.push('--ignore-certificate-errors');
  // launchPersistentContext puts a fresh --user-data-dir on the command line
  const context = await pwChromium.launchPersistentContext(userDataDir, {
    executablePath: chromium,
    headless: true,
    args,
    viewport: { width: 900, height: 760 },
    ignoreHTTPSErrors: true,
    permissions: ['microphone', 'camera'],
    timeout: 30000,
  });
  const ours = () => {
    const pids = [];
    for (const d of fs.readdirSync('/proc')) {
      if (!/^\d+$/.test(d)) continue;
      try {
        if (fs.readFileSync(`/proc/${d}/cmdline`, 'utf8').includes(userDataDir)) pids.push(Number(d));
      } catch { /* gone */ }
    }
    return pids;
  };
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await Promise.race([context.close().catch(() => {}), sleep(10000)]);
    for (let i = 0; i < 50 && ours().length; i++) await sleep(100);
    for (const pid of ours()) { try { process.kill(pid, 'SIGKILL'); info(`killed leftover chromium pid ${pid}`); } catch { /* gone */ } }
    fs.rmSync(userDataDir, { recursive: true, force: true });
  };
  return { context, close };
}
