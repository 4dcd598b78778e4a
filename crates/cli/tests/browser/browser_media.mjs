#!/usr/bin/env node
// What a browser phone hears: JsSIP in headless Chromium registers over
// WebSocket, calls (or is called by) a phone, and measures the call's audio
// both ways: Chromium's fake capture plays --tone-wav as the microphone; the
// page taps the remote and the local track with WebAudio AnalyserNodes
// (dominant frequency, level) and reads RTCPeerConnection getStats (packets,
// audioLevel, codec, DTLS, the SDP both ways). Then it hangs up and
// unregisters.
//
// Prints one `ok  ` / `FAIL` line per signalling check, one JSON line per
// measured call (`{"kind":"media","page":..,"peer":..,"audio":{"remote":
// {"hz","dbfs"},"local":{..}},"stats":{..}}`: the caller asserts on them),
// and `N passed, M failed` last; exit status 0 only if nothing failed.
//
// Usage: node browser_media.mjs --ws-url wss://127.0.0.1:P --tone-wav F [--flag value ...]
//   --ws-url       the server's ws:// or wss:// URL (wss: any certificate accepted)
//   --domain       the SIP domain (the URL's host)
//   --user --pass  the browser's account
//   --call         a user to call (comma-separated: called one after the other)
//   --answer       how many incoming calls to wait for and answer (then hang up)
//   --peer --peer-pass --peer-hz   a second page in the same Chromium that
//                  registers and answers, sending a synthesized tone of
//                  peer-hz instead of the fake capture (browser to browser)
//   --tone-wav     the WAV Chromium's fake capture plays (looped)
//   --hold         after measuring a call it places: hold (a re-INVITE with
//                  a=sendonly), measure, resume, measure again
//   --listen       seconds of audio measured per call (4)
//   --settle       seconds between the answer and the measurement (2)
//   --timeout      the whole run's hard limit in seconds (120)
//   --step-timeout seconds per check (20; waiting for a call: 60)
//   --http-port    the static page server on 127.0.0.1 (8092)
//   --out          console logs, SIP traces, screenshots (./out)
//   --chromium     /usr/bin/chromium
import fs from 'node:fs';
import path from 'node:path';
import { Checks, HERE, buildJsSip, info, launchBrowser, parseArgs, printUsage, sleep, startStatic, timeout } from './shared.mjs';

const F = parseArgs(process.argv.slice(2));
if (F.help || F.h) { printUsage(import.meta.url); process.exit(0); }
const list = (v) => (v && v !== true ? String(v).split(',').map((x) => x.trim()).filter(Boolean) : []);
const cfg = {
  wsUrl: F['ws-url'],
  user: F.user || 'alice',
  pass: F.pass || 'alice-secret',
  call: list(F.call),
  answer: Number(F.answer || 0),
  hold: F.hold === true || F.hold === '1',
  peer: F.peer ? { user: F.peer, pass: F['peer-pass'] || 'bob-secret', hz: Number(F['peer-hz'] || 440) } : null,
  toneWav: F['tone-wav'],
  listenS: Number(F.listen || 4),
  settleS: Number(F.settle || 2),
  timeoutS: Number(F.timeout || 120),
  stepS: Number(F['step-timeout'] || 20),
  httpPort: Number(F['http-port'] || 8092),
  outDir: path.resolve(F.out || path.join(HERE, 'out')),
  chromium: F.chromium || '/usr/bin/chromium',
};
if (!cfg.wsUrl || !/^wss?:\/\//.test(cfg.wsUrl)) { console.error('--ws-url ws://.. or wss://.. is required'); process.exit(2); }
if (!cfg.toneWav || !fs.existsSync(cfg.toneWav)) { console.error(`--tone-wav: no such file ${cfg.toneWav}`); process.exit(2); }
if (!cfg.call.length && !cfg.answer && !cfg.peer) { console.error('nothing to do: --call, --answer or --peer'); process.exit(2); }
cfg.domain = F.domain || new URL(cfg.wsUrl).hostname;
fs.mkdirSync(cfg.outDir, { recursive: true });

const C = new Checks(cfg.stepS);
const emit = (obj) => console.log(JSON.stringify(obj));

let server = null;
let browser = null;
const pages = {};
const logs = {};

async function openPage(who, setup) {
  logs[who] = fs.createWriteStream(path.join(cfg.outDir, `media-${who}.console.log`));
  logs[who].on('error', () => {});
  const page = await browser.context.newPage();
  page.on('console', (m) => logs[who].write(`[${new Date().toISOString()}] ${m.type()}: ${m.text()}\n`));
  page.on('pageerror', (e) => logs[who].write(`[${new Date().toISOString()}] pageerror: ${e.message}\n`));
  await page.goto(`http://127.0.0.1:${cfg.httpPort}/?name=${who}&lib=jssip`, { timeout: 15000 });
  await page.waitForFunction(() => window.harnessReady === true, null, { timeout: 10000 });
  const r = await page.evaluate((o) => window.harness.setup(o), setup);
  pages[who] = page;
  return r;
}
const waitIn = (page, fn, arg, what, seconds = cfg.stepS) => page.waitForFunction(fn, arg, { timeout: seconds * 1000, polling: 100 })
  .then(() => true, (e) => { throw new Error(`${what}: ${String(e.message).split('\n')[0]}`); });
const callState = (who) => pages[who].evaluate(() => window.harness.state.call);

// A page: loaded, connected, registered; the gate of the last step.
async function bringUp(who, account, extra) {
  const load = `${who}: page loads JsSIP`;
  await C.check(load, async () => {
    const r = await openPage(who, { wsUrl: cfg.wsUrl, domain: cfg.domain, loopbackIce: true, rawAudio: true, lib: 'jssip', user: account.user, password: account.pass, ...extra });
    return { ok: true, detail: `${r.lib} ${r.version}` };
  });
  const conn = `${who}: WebSocket opens`;
  await C.check(conn, async () => {
    const r = await pages[who].evaluate(() => window.harness.connect());
    return { ok: r.ok, detail: r.ok ? `subprotocol ${r.subprotocol}` : r.cause };
  }, { needs: [C.gate(load)] });
  const reg = `${who}: REGISTER -> 2xx`;
  await C.check(reg, async () => {
    const r = await pages[who].evaluate(() => window.harness.register());
    return { ok: r.ok && r.code >= 200 && r.code < 300, detail: `final ${r.code ?? ''} ${r.cause ?? r.reason ?? ''}` };
  }, { needs: [C.gate(conn)] });
  return C.gate(reg);
}

// The audio of `who`'s call with `peer` in `phase` (call, held, resumed),
// measured; one JSON line.
async function measure(who, peer, confirmed, phase = 'call') {
  return C.check(`${who}: audio of the call with ${peer} measured${phase === 'call' ? '' : ' (' + phase + ')'}`, async () => {
    await sleep(cfg.settleS * 1000);
    const audio = await pages[who].evaluate((ms) => window.harness.measureAudio(ms), cfg.listenS * 1000);
    const stats = await pages[who].evaluate(() => window.harness.audioStats());
    emit({ kind: 'media', page: who, peer, phase, audio, stats });
    const rx = stats && stats.inbound ? stats.inbound.packetsReceived : 0;
    return { ok: !audio.error, detail: audio.error || `heard ${audio.remote && audio.remote.hz} Hz at ${audio.remote && audio.remote.dbfs} dBFS, sent ${audio.local && audio.local.hz} Hz; ${rx} packets in, ICE ${stats && stats.iceConnectionState}` };
  }, { needs: confirmed, stepS: cfg.stepS + cfg.settleS + cfg.listenS });
}

// Hold, measure, resume, measure: each a re-INVITE answered, the call
// still confirmed, the offer's direction as asked.
async function holdAndResume(who, peer, confirmed) {
  for (const [on, phase, dir] of [[true, 'held', 'sendonly'], [false, 'resumed', 'sendrecv']]) {
    const name = `${who}: ${on ? 'holds' : 'resumes'} the call with ${peer} (re-INVITE answered)`;
    await C.check(name, async () => {
      const r = await pages[who].evaluate((h) => window.harness.setHold(h), on);
      const c = await callState(who);
      // the re-INVITE's SDP (JsSIP writes the hold in what it sends, not in
      // the RTCPeerConnection's own description)
      const sdp = await pages[who].evaluate(() => (window.harness.wire.filter((w) => w.dir === '>>' && /^INVITE /.test(w.data)).pop() || {}).data);
      const sent = (/a=(sendrecv|sendonly|recvonly|inactive)/.exec(sdp || '') || [])[1];
      return { ok: r.ok && c.state === 'confirmed' && sent === dir, detail: `${r.ok ? 'answered' : r.cause}; call ${c.state}; offered a=${sent}` };
    }, { needs: confirmed });
    await measure(who, peer, [C.gate(name)], phase);
  }
}

async function hangUp(who, peer, confirmed) {
  return C.check(`${who}: hangs up the call with ${peer}`, async () => {
    await pages[who].evaluate(() => window.harness.hangup());
    await waitIn(pages[who], () => ['ended', 'failed'].includes(window.harness.state.call.state), null, 'call not ended');
    const c = await callState(who);
    return { ok: c.state === 'ended', detail: `state ${c.state} (${c.cause})` };
  }, { needs: confirmed });
}

async function dumpTrace(who) {
  try {
    const wire = await Promise.race([pages[who].evaluate(() => window.harness.wire), timeout(5000, 'trace')]);
    const text = wire.map((w) => `----- ${new Date(w.t).toISOString()} ws#${w.ws} ${w.dir === '>>' ? 'SENT' : w.dir === '<<' ? 'RECEIVED' : 'EVENT'}\n${w.data.replace(/\r\n/g, '\n')}`).join('\n');
    fs.writeFileSync(path.join(cfg.outDir, `media-${who}.sip.txt`), text + '\n');
    await Promise.race([pages[who].screenshot({ path: path.join(cfg.outDir, `media-${who}.png`), fullPage: true }), timeout(8000, 'screenshot')]);
  } catch (e) { info(`trace of ${who} failed: ${e.message}`); }
}

async function main() {
  info(`config: ${JSON.stringify({ ...cfg, pass: undefined, peer: cfg.peer && { user: cfg.peer.user, hz: cfg.peer.hz } })}`);
  server = await startStatic(await buildJsSip(), cfg.httpPort);
  browser = await launchBrowser({
    chromium: cfg.chromium,
    insecure: cfg.wsUrl.startsWith('wss:'),
    extraArgs: [`--use-file-for-fake-audio-capture=${cfg.toneWav}`],
  });
  const me = cfg.user;
  const up = await bringUp(me, { user: cfg.user, pass: cfg.pass }, { autoAnswer: cfg.answer > 0 });
  let peerUp = null;
  if (cfg.peer) peerUp = await bringUp(cfg.peer.user, cfg.peer, { autoAnswer: true, toneHz: cfg.peer.hz });
  emit({ kind: 'registered', page: me, ok: up.ok });

  const targets = cfg.peer ? [cfg.peer.user, ...cfg.call] : cfg.call;
  for (const target of targets) {
    const confirmed = `${me}: call to ${target} confirmed`;
    await C.check(confirmed, async () => {
      await pages[me].evaluate((t) => window.harness.call(t), target);
      await waitIn(pages[me], () => ['confirmed', 'failed', 'ended'].includes(window.harness.state.call.state), null, 'never confirmed');
      const c = await callState(me);
      return { ok: c.state === 'confirmed', detail: `state ${c.state}${c.cause ? ' ' + c.cause : ''}` };
    }, { needs: peerUp && target === cfg.peer.user ? [up, peerUp] : [up] });
    const gates = [C.gate(confirmed)];
    if (cfg.peer && target === cfg.peer.user) {
      await Promise.all([measure(me, target, gates), measure(target, me, gates)]);
    } else {
      await measure(me, target, gates);
    }
    if (cfg.hold) await holdAndResume(me, target, gates);
    await hangUp(me, target, gates);
  }

  for (let n = 1; n <= cfg.answer; n++) {
    const answered = `${me}: incoming call ${n} answered and confirmed`;
    let from = '?';
    await C.check(answered, async () => {
      // the n-th call, answered (confirmed) or refused (failed)
      await waitIn(pages[me], (k) => window.harness.state.call.direction === 'incoming'
        && ['confirmed', 'failed'].includes(window.harness.state.call.state)
        && window.harness.wire.filter((w) => w.dir === '<<' && /^INVITE /.test(w.data)).length >= k, n, 'no call', 60);
      const c = await callState(me);
      from = c.peer;
      return { ok: c.state === 'confirmed', detail: `from ${c.peer}: ${c.state}${c.cause ? ' ' + c.cause : ''}` };
    }, { needs: [up], stepS: 65 });
    const gates = [C.gate(answered)];
    await measure(me, from, gates);
    await hangUp(me, from, gates);
  }

  for (const who of Object.keys(pages)) {
    await C.check(`${who}: unREGISTER -> 2xx`, async () => {
      const r = await pages[who].evaluate(() => window.harness.unregister());
      return { ok: r.ok, detail: `final ${r.code ?? ''}` };
    }, { needs: [C.gate(`${who}: REGISTER -> 2xx`)] });
  }
}

async function cleanup() {
  for (const who of Object.keys(pages)) {
    if (!pages[who].isClosed()) await dumpTrace(who);
    logs[who].end();
  }
  if (browser) { await browser.close(); browser = null; }
  if (server) { server.stop(); server = null; }
}

// hard overall deadline: record what is left, clean up, exit non-zero
const hard = setTimeout(async () => {
  C.deadlineHit = true;
  C.record(`whole run within ${cfg.timeoutS}s`, false, 'run did not finish in time');
  setTimeout(() => { console.log('cleanup hung; exiting'); C.summary(); process.exit(1); }, 20000).unref();
  await cleanup();
  C.summary();
  process.exit(1);
}, cfg.timeoutS * 1000);

main().then(async () => {
  clearTimeout(hard);
  await cleanup();
  process.exit(C.summary());
}, async (e) => {
  clearTimeout(hard);
  C.record('harness setup', false, String(e && e.stack || e).split('\n').slice(0, 3).join(' | '));
  await cleanup();
  process.exit(C.summary() || 1);
});
