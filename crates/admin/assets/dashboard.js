// Switchboard's dashboard: logs in with an API token (kept in this tab's
// sessionStorage), reads the server-sent events of /api/v1/events with
// fetch() streaming (EventSource cannot send the token) and draws what
// they say. Every value goes into the page as text, never as HTML.
'use strict';

const TOKEN_KEY = 'switchboard-token';
const RETRY_MS = 2000;
const SVG = 'http://www.w3.org/2000/svg';

const $ = (id) => document.getElementById(id);

// The server's clock minus ours: timers count from the server's instants.
let clockOffset = 0;
// Each connection's number: a stale one stops quietly.
let generation = 0;
let controller = null;

const serverNow = () => Date.now() + clockOffset;

function setConnection(live, text) {
  const el = $('connection');
  el.textContent = text;
  el.className = 'state ' + (live ? 'on' : 'off');
}

function showLogin(message) {
  $('login').hidden = false;
  $('board').hidden = true;
  $('logout').hidden = true;
  setConnection(false, 'not connected');
  const error = $('login-error');
  error.textContent = message || '';
  error.hidden = !message;
  $('token').focus();
}

function showBoard() {
  $('login').hidden = true;
  $('login-error').hidden = true;
  $('board').hidden = false;
  $('logout').hidden = false;
}

// The detail of an RFC 9457 problem document, else the status line.
async function problemDetail(response) {
  try {
    const problem = await response.json();
    if (problem && problem.detail) return problem.detail;
  } catch (_) { /* not JSON */ }
  return `HTTP ${response.status}`;
}

function stop() {
  generation += 1;
  if (controller) controller.abort();
  controller = null;
}

async function connect(token) {
  stop();
  const mine = generation;
  controller = new AbortController();
  setConnection(false, 'connecting…');
  let response;
  try {
    response = await fetch('/api/v1/events', {
      headers: { Authorization: `Bearer ${token}`, Accept: 'text/event-stream' },
      cache: 'no-store',
      signal: controller.signal,
    });
  } catch (_) {
    retry(token, mine, 'server unreachable, retrying…');
    return;
  }
  if (mine !== generation) return;
  if (response.status === 401) {
    sessionStorage.removeItem(TOKEN_KEY);
    const detail = await problemDetail(response);
    showLogin(`This token was refused: ${detail}. Create one with "switchboard token create NAME".`);
    return;
  }
  if (!response.ok || !response.body) {
    retry(token, mine, `server answered: ${await problemDetail(response)}; retrying…`);
    return;
  }
  showBoard();
  setConnection(true, 'live');
  try {
    await readEvents(response.body, mine);
  } catch (_) { /* aborted or cut: retried below */ }
  retry(token, mine, 'disconnected, reconnecting…');
}

function retry(token, mine, text) {
  if (mine !== generation) return;
  setConnection(false, text);
  setTimeout(() => { if (mine === generation) connect(token); }, RETRY_MS);
}

// text/event-stream: blocks separated by a blank line, `field: value` lines.
async function readEvents(body, mine) {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done || mine !== generation) return;
    buffer += decoder.decode(value, { stream: true }).replace(/\r\n?/g, '\n');
    let cut;
    while ((cut = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      onBlock(block);
    }
  }
}

function onBlock(block) {
  let event = 'message';
  const data = [];
  for (const line of block.split('\n')) {
    if (line === '' || line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') event = value;
    else if (field === 'data') data.push(value);
  }
  if (event !== 'snapshot' || data.length === 0) return;
  const message = JSON.parse(data.join('\n'));
  clockOffset = message.server_ms - Date.now();
  render(message.view);
}

// ------------------------------------------------------------ tables

function cell(text, className) {
  const td = document.createElement('td');
  td.textContent = text == null ? '' : String(text);
  if (className) td.className = className;
  td.title = td.textContent;
  return td;
}

function fillTable(id, rows, columns, empty) {
  const body = $(id).tBodies[0];
  const fresh = document.createElement('tbody');
  if (rows.length === 0) {
    const tr = document.createElement('tr');
    tr.className = 'empty';
    const td = cell(empty);
    td.colSpan = columns;
    tr.append(td);
    fresh.append(tr);
  }
  for (const cells of rows) {
    const tr = document.createElement('tr');
    tr.append(...cells);
    fresh.append(tr);
  }
  body.replaceWith(fresh);
}

function setCount(id, shown, total, noun) {
  $(`${id}-count`).textContent = String(total);
  const more = $(`${id}-more`);
  if (!more) return;
  more.hidden = total <= shown;
  more.textContent = `showing the first ${shown} of ${total} ${noun}`;
}

function duration(ms) {
  const s = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const pad = (n) => String(n).padStart(2, '0');
  return h > 0 ? `${h}:${pad(m)}:${pad(s % 60)}` : `${m}:${pad(s % 60)}`;
}

function renderCalls(view) {
  const rows = view.calls.map((call) => {
    const timer = cell('', 'duration');
    if (call.answer_ms != null) timer.dataset.since = String(call.answer_ms);
    else timer.textContent = '–';
    const state = call.state === 'confirmed' ? 'answered' : call.state === 'early' ? 'ringing' : call.state;
    return [cell(call.caller), cell(call.callee), cell(state), timer, cell(call.call_id)];
  });
  fillTable('calls', rows, 5, 'no call in progress');
  setCount('calls', view.calls.length, view.calls_total, 'calls');
}

function renderRegistrations(view) {
  const rows = view.registrations.map((r) => {
    const left = cell('', 'expires');
    left.dataset.until = String(r.expires_at * 1000);
    return [cell(r.aor.replace(/^sips?:/, '')), cell(r.contact), cell(r.transport), left, cell(r.user_agent || '')];
  });
  fillTable('registrations', rows, 5, 'no device registered');
  setCount('registrations', view.registrations.length, view.registrations_total, 'registrations');
}

function trunkRegistration(reg) {
  switch (reg.state) {
    case 'registered': return `registered until ${new Date(reg.until * 1000).toLocaleTimeString()}`;
    case 'failed': return `failed${reg.status ? ` (${reg.status})` : ''}, retry at ${new Date(reg.retry_at * 1000).toLocaleTimeString()}`;
    default: return reg.state;
  }
}

function renderTrunks(view) {
  const rows = [];
  for (const trunk of view.trunks) {
    const gateways = trunk.gateways.length ? trunk.gateways : [null];
    for (const gw of gateways) {
      rows.push([
        cell(trunk.name),
        cell(gw ? gw.uri : ''),
        cell(gw ? gw.health : '', gw ? `health-${gw.health}` : ''),
        cell(trunkRegistration(trunk.registration)),
      ]);
    }
  }
  fillTable('trunks', rows, 4, 'no trunk in the dial plan');
  $('trunks-count').textContent = String(view.trunks.length);
}

// The running timers, between snapshots.
function tick() {
  const now = serverNow();
  for (const td of document.querySelectorAll('td.duration[data-since]')) {
    td.textContent = duration(now - Number(td.dataset.since));
  }
  for (const td of document.querySelectorAll('td.expires[data-until]')) {
    td.textContent = duration(Number(td.dataset.until) - now);
  }
}

// ------------------------------------------------------------ charts

function svgElement(name, attributes) {
  const el = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) el.setAttribute(key, String(value));
  return el;
}

// A line per key over the minutes, the y axis from 0 to the largest value.
function drawChart(svg, minutes, keys) {
  const [width, height, left, right, top, bottom] = [600, 140, 34, 8, 8, 18];
  const plotW = width - left - right;
  const plotH = height - top - bottom;
  const max = Math.max(1, ...minutes.flatMap((m) => keys.map((k) => m[k])));
  const x = (i) => left + (minutes.length > 1 ? (i * plotW) / (minutes.length - 1) : 0);
  const y = (v) => top + plotH - (v * plotH) / max;
  svg.replaceChildren();
  svg.append(
    svgElement('line', { x1: left, y1: top + plotH, x2: width - right, y2: top + plotH, class: 'axis' }),
    svgElement('line', { x1: left, y1: top, x2: left, y2: top + plotH, class: 'axis' }),
  );
  const label = (text, attrs) => {
    const t = svgElement('text', { class: 'label', ...attrs });
    t.textContent = text;
    svg.append(t);
  };
  label(String(max), { x: left - 4, y: top + 8, 'text-anchor': 'end' });
  label('0', { x: left - 4, y: top + plotH, 'text-anchor': 'end' });
  label('-60 min', { x: left, y: height - 4 });
  label('now', { x: width - right, y: height - 4, 'text-anchor': 'end' });
  for (const key of keys) {
    const points = minutes.map((m, i) => `${x(i).toFixed(1)},${y(m[key]).toFixed(1)}`).join(' ');
    svg.append(svgElement('polyline', { points, class: `line ${key}` }));
  }
  const total = (k) => minutes.reduce((sum, m) => sum + m[k], 0);
  svg.dataset.totals = keys.map((k) => `${k}=${total(k)}`).join(' ');
}

// ------------------------------------------------------------ page

function render(view) {
  renderCalls(view);
  renderRegistrations(view);
  renderTrunks(view);
  drawChart($('chart-calls'), view.per_minute, ['calls', 'answered']);
  drawChart($('chart-registrations'), view.per_minute, ['registrations']);
  tick();
  document.body.dataset.snapshots = String(Number(document.body.dataset.snapshots || 0) + 1);
}

function start() {
  $('login-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const token = $('token').value.trim();
    if (!token) {
      showLogin('Paste a token first.');
      return;
    }
    $('token').value = '';
    sessionStorage.setItem(TOKEN_KEY, token);
    connect(token);
  });
  $('logout').addEventListener('click', () => {
    sessionStorage.removeItem(TOKEN_KEY);
    stop();
    showLogin('');
  });
  setInterval(tick, 250);
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token) connect(token);
  else showLogin('');
}

start();
