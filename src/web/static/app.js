// linechat web client: a small IRC client over the IRCv3 WebSocket binding
// (one IRC line per text frame). No framework, no build step.
//
// Safety rule for this file: text that came from the network or the user is only ever
// put into the page with textContent / createTextNode (see el()); links are built with
// createElement('a') for http(s) URLs only. Never innerHTML.
'use strict';

// ---------------------------------------------------------------------------
// Constants

const WANTED_CAPS = ['message-tags', 'server-time', 'echo-message', 'batch', 'labeled-response',
  'draft/chathistory', 'soju.im/search', 'multi-prefix', 'away-notify', 'extended-join',
  'setname', 'invite-notify', 'chghost', 'cap-notify', 'userhost-in-names'];
const HISTORY_PAGE = 50;          // messages per CHATHISTORY request
const SEARCH_LIMIT = 50;
const MAX_TEXT_BYTES = 400;       // bytes of text per PRIVMSG line (the server's line limit is 512)
const TYPING_EVERY_MS = 3000;     // send +typing=active at most this often
const TYPING_EXPIRES_MS = 6000;   // forget someone's typing after this long without an update
const BACKOFF_MIN = 1;
const BACKOFF_MAX = 30;           // seconds
const STATUS_KEY = '*status';
const JOIN_ERRORS = new Set(['403', '405', '471', '473', '474', '475', '476', '477', '479']);
const NICK_ERRORS = new Set(['431', '432', '433', '436']);
const STATUS_NUMERICS = new Set(['002', '003', '004', '251', '252', '253', '254', '255', '265',
  '266', '375', '372', '376', '422']);

// ---------------------------------------------------------------------------
// DOM helpers

const $ = (id) => document.getElementById(id);

/** Creates an element; children are nodes or strings (strings become text nodes). */
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') node.className = v;
      else if (k === 'text') node.textContent = v;
      else if (k === 'hue') node.style.setProperty('--hue', String(v));
      else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v === true ? '' : String(v));
    }
  }
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    node.append(typeof c === 'string' ? document.createTextNode(c) : c);
  }
  return node;
}

const FORMATTING = /\x03(\d{1,2}(,\d{1,2})?)?|\x04[0-9a-fA-F]{6}(,[0-9a-fA-F]{6})?|[\x00-\x08\x0b-\x1f\x7f]/g;

/** Text with IRC formatting codes and control characters removed. */
function clean(text) {
  return String(text ?? '').replace(FORMATTING, '');
}

const URL_RE = /\bhttps?:\/\/[^\s<>"'`]+/gi;

/** A fragment of text nodes and <a> elements for the http(s) URLs in `text`. */
function linkify(text) {
  const frag = document.createDocumentFragment();
  let last = 0;
  for (const m of text.matchAll(URL_RE)) {
    let url = m[0];
    // Trailing punctuation belongs to the sentence, not to the URL.
    while (/[.,;:!?)\]}]$/.test(url)) {
      if (url.endsWith(')') && (url.match(/\(/g) || []).length >= (url.match(/\)/g) || []).length) break;
      url = url.slice(0, -1);
    }
    let parsed = null;
    try { parsed = new URL(url); } catch { parsed = null; }
    if (!parsed || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')) continue;
    frag.append(text.slice(last, m.index));
    frag.append(el('a', { href: parsed.href, target: '_blank', rel: 'noopener noreferrer' }, url));
    last = m.index + url.length;
  }
  frag.append(text.slice(last));
  return frag;
}

function pad(n) { return String(n).padStart(2, '0'); }

function fmtTime(d) { return `${pad(d.getHours())}:${pad(d.getMinutes())}`; }

function fmtDateTime(d) {
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${fmtTime(d)}`;
}

/** HH:MM today, MM-DD HH:MM earlier this year, the full date before that. */
function fmtStamp(d) {
  const now = new Date();
  if (d.toDateString() === now.toDateString()) return fmtTime(d);
  if (d.getFullYear() === now.getFullYear()) return `${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${fmtTime(d)}`;
  return fmtDateTime(d);
}

function nickHue(nick) {
  let h = 0;
  for (const ch of nick.toLowerCase()) h = (h * 31 + ch.codePointAt(0)) >>> 0;
  return h % 360;
}

// ---------------------------------------------------------------------------
// IRC lines

function unescapeTag(v) {
  let out = '';
  for (let i = 0; i < v.length; i++) {
    const c = v[i];
    if (c !== '\\') { out += c; continue; }
    i++;
    if (i >= v.length) break; // a trailing lone backslash is dropped
    const n = v[i];
    out += n === ':' ? ';' : n === 's' ? ' ' : n === 'r' ? '\r' : n === 'n' ? '\n' : n;
  }
  return out;
}

function escapeTag(v) {
  return String(v).replace(/[\\; \r\n]/g, (c) =>
    ({ '\\': '\\\\', ';': '\\:', ' ': '\\s', '\r': '\\r', '\n': '\\n' })[c]);
}

/** Parses one IRC line into { tags, source, nick, command, params }. */
function parseLine(line) {
  const msg = { tags: {}, source: '', nick: '', command: '', params: [] };
  let rest = line;
  if (rest.startsWith('@')) {
    const sp = rest.indexOf(' ');
    const raw = sp < 0 ? rest.slice(1) : rest.slice(1, sp);
    for (const part of raw.split(';')) {
      if (!part) continue;
      const eq = part.indexOf('=');
      if (eq < 0) msg.tags[part] = '';
      else msg.tags[part.slice(0, eq)] = unescapeTag(part.slice(eq + 1));
    }
    rest = sp < 0 ? '' : rest.slice(sp + 1);
  }
  rest = rest.replace(/^ +/, '');
  if (rest.startsWith(':')) {
    const sp = rest.indexOf(' ');
    msg.source = sp < 0 ? rest.slice(1) : rest.slice(1, sp);
    rest = sp < 0 ? '' : rest.slice(sp + 1);
    const bang = msg.source.search(/[!@]/);
    msg.nick = bang < 0 ? msg.source : msg.source.slice(0, bang);
  }
  rest = rest.replace(/^ +/, '');
  const sp = rest.indexOf(' ');
  msg.command = (sp < 0 ? rest : rest.slice(0, sp)).toUpperCase();
  rest = sp < 0 ? '' : rest.slice(sp + 1);
  while (rest.length) {
    rest = rest.replace(/^ +/, '');
    if (!rest.length) break;
    if (rest.startsWith(':')) { msg.params.push(rest.slice(1)); break; }
    const s = rest.indexOf(' ');
    msg.params.push(s < 0 ? rest : rest.slice(0, s));
    rest = s < 0 ? '' : rest.slice(s + 1);
  }
  return msg;
}

function utf8Len(ch) {
  const c = ch.codePointAt(0);
  return c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4;
}

/** Splits text into pieces of at most maxBytes UTF-8 bytes, only between code points,
 *  preferring a space near the end of each piece. */
function splitUtf8(text, maxBytes) {
  const pieces = [];
  let cur = [];       // code points of the current piece
  let bytes = 0;
  for (const ch of text) {
    const n = utf8Len(ch);
    if (bytes + n > maxBytes && cur.length) {
      let cut = cur.length;
      const space = cur.lastIndexOf(' ');
      if (space > cur.length / 2) cut = space;
      pieces.push(cur.slice(0, cut).join(''));
      cur = cur.slice(cut === space ? cut + 1 : cut);
      bytes = cur.reduce((s, c) => s + utf8Len(c), 0);
    }
    cur.push(ch);
    bytes += n;
  }
  if (cur.length) pieces.push(cur.join(''));
  return pieces.filter((p) => p.trim().length);
}

const lowerNick = (n) => n.replace(/[A-Z]/g, (c) => c.toLowerCase());

// ---------------------------------------------------------------------------
// State

const state = {
  ws: null,
  me: '',
  wantedNick: '',
  registered: false,
  everRegistered: false,   // reconnect only once we have been in
  closing: false,          // we closed the socket on purpose
  caps: new Set(),
  lsCaps: [],
  serverName: '',
  prefixModes: 'ov',
  prefixSymbols: '@+',
  chanModes: ['beI', 'k', 'lW', 'imnst'],
  chanTypes: '#',
  backoff: BACKOFF_MIN,
  reconnectTimer: null,
  countdownTimer: null,
  nickTries: 0,
  buffers: new Map(),      // key -> buffer
  active: null,            // the buffer on screen
  pendingJoin: null,       // { room, key } from the lobby, until its JOIN echo
  batches: new Map(),      // batch id -> { type, params, lines, label }
  requests: [],            // { label, cmd, kind, target, msgid }
  labelSeq: 0,
  lastTypingSent: 0,
  typingTarget: null,
};

const isChannel = (name) => !!name && state.chanTypes.includes(name[0]);
const bufKey = (name) => (isChannel(name) ? name.toLowerCase() : lowerNick(name));
const has = (cap) => state.caps.has(cap);

function send(line) {
  if (!state.ws || state.ws.readyState !== WebSocket.OPEN) return false;
  state.ws.send(line.replace(/[\r\n\0]/g, ' '));
  return true;
}

/** Sends a request whose answer is one batch (or a FAIL), remembered to route the answer. */
function request(cmd, line, info) {
  const req = { cmd, ...info };
  if (has('labeled-response')) {
    req.label = `w${++state.labelSeq}`;
    line = `@label=${req.label} ${line}`;
  }
  state.requests.push(req);
  send(line);
  return req;
}

/** The pending request answered by a line tagged `label` (or the oldest one for cmd). */
function takeRequest(cmd, label) {
  let i = -1;
  if (label) i = state.requests.findIndex((r) => r.label === label);
  if (i < 0) i = state.requests.findIndex((r) => r.cmd === cmd);
  return i < 0 ? null : state.requests.splice(i, 1)[0];
}

// ---------------------------------------------------------------------------
// Buffers (rooms, private conversations, the server's own)

function getBuffer(name, create = true) {
  const key = name === STATUS_KEY ? STATUS_KEY : bufKey(name);
  let buf = state.buffers.get(key);
  if (buf || !create) return buf || null;
  const kind = key === STATUS_KEY ? 'status' : isChannel(name) ? 'room' : 'query';
  buf = {
    key, kind, name: key === STATUS_KEY ? (state.serverName || 'Server') : name,
    joined: false, roomKey: '', topic: '',
    members: new Map(), newMembers: null,
    typing: new Map(),
    seen: new Set(),
    oldest: null, historyDone: kind !== 'room', loadingOlder: false,
    detached: false, stick: true, unread: 0, mention: false,
  };
  buf.older = el('div', { class: 'older' });
  buf.log = el('div', { class: 'log' });
  buf.view = el('div', { class: 'view', role: 'log', 'data-buffer': buf.name, hidden: true, tabindex: '0' },
    buf.older, buf.log);
  buf.view.addEventListener('scroll', () => onViewScroll(buf));
  buf.tab = el('li', { 'data-buffer': buf.name });
  buf.tabButton = el('button', { type: 'button', onclick: () => activate(buf) });
  buf.tab.append(buf.tabButton);
  if (kind !== 'status') {
    buf.tab.append(el('button', {
      type: 'button', class: 'close', 'aria-label': kind === 'room' ? 'Leave the room' : 'Close the conversation', text: '✕',
      onclick: () => closeBuffer(buf),
    }));
  }
  state.buffers.set(key, buf);
  $('views').append(buf.view);
  $('buffer-list').append(buf.tab);
  renderOlder(buf);
  renderTab(buf);
  return buf;
}

function statusBuffer() { return getBuffer(STATUS_KEY); }

function renderTab(buf) {
  const label = buf.kind === 'status' ? (state.serverName || 'Server') : buf.name;
  const children = [el('span', { class: 'tab-name', text: label })];
  if (buf.unread) children.push(el('span', { class: 'badge', text: String(buf.unread) }));
  buf.tabButton.replaceChildren(...children);
  buf.tab.classList.toggle('active', buf === state.active);
  buf.tab.classList.toggle('mention', buf.mention);
  buf.tab.classList.toggle('parted', buf.kind === 'room' && !buf.joined);
  buf.tab.dataset.buffer = buf.name;
  buf.view.dataset.buffer = buf.name;
}

function activate(buf) {
  const prev = state.active;
  if (prev && prev !== buf) {
    if (prev.view.hidden === false) prev.stick = atBottom(prev.view);
    prev.view.hidden = true;
    stopTyping();
  }
  state.active = buf;
  buf.view.hidden = false;
  buf.unread = 0;
  buf.mention = false;
  for (const b of state.buffers.values()) renderTab(b);
  renderHeader();
  renderMembers();
  renderTyping();
  if (buf.stick) scrollToBottom(buf);
  document.body.classList.remove('show-members');
  document.title = buf.kind === 'status' ? 'linechat' : `${buf.name} — linechat`;
  if (window.matchMedia('(min-width: 701px)').matches) $('input').focus();
}

function closeBuffer(buf) {
  if (buf.kind === 'room' && buf.joined) {
    send(`PART ${buf.name}`);
    return; // removed on the PART echo
  }
  removeBuffer(buf);
}

function removeBuffer(buf) {
  for (const t of buf.typing.values()) clearTimeout(t);
  state.buffers.delete(buf.key);
  buf.view.remove();
  buf.tab.remove();
  if (state.active === buf) {
    const next = [...state.buffers.values()].reverse().find((b) => b.kind === 'room')
      || statusBuffer();
    activate(next);
  }
}

function renderHeader() {
  const buf = state.active;
  if (!buf) return;
  $('title').textContent = buf.kind === 'status' ? (state.serverName || 'Server') : buf.name;
  const topic = $('topic');
  topic.replaceChildren();
  if (buf.kind === 'room') {
    topic.append(buf.topic ? linkify(buf.topic) : '');
    topic.title = buf.topic;
  } else if (buf.kind === 'query') {
    topic.textContent = 'Private conversation';
  }
  const isRoom = buf.kind === 'room';
  $('members-toggle').hidden = !isRoom;
  $('members-panel').classList.toggle('empty', !isRoom);
  document.body.classList.toggle('no-members', !isRoom);
}

function renderOlder(buf) {
  buf.older.replaceChildren();
  if (buf.kind !== 'room') return;
  if (buf.detached) {
    buf.older.append(el('p', { class: 'detached-note', text: 'Showing older messages in context.' }));
  }
  if (buf.historyDone) {
    if (buf.log.childElementCount) buf.older.append(el('p', { class: 'history-start', text: 'Start of the history' }));
  } else if (buf.loadingOlder) {
    buf.older.append(el('p', { class: 'loading', text: 'Loading older messages…' }));
  } else if (buf.oldest) {
    buf.older.append(el('button', { type: 'button', class: 'load-older', text: 'Load older messages', onclick: () => loadOlder(buf) }));
  }
  const latest = buf.view.querySelector('.to-latest');
  if (buf.detached && !latest) {
    buf.view.append(el('button', { type: 'button', class: 'to-latest', text: 'Jump to the latest messages', onclick: () => reloadLatest(buf) }));
  } else if (!buf.detached && latest) {
    latest.remove();
  }
}

function atBottom(view) {
  return view.scrollHeight - view.scrollTop - view.clientHeight < 48;
}

function scrollToBottom(buf) {
  buf.view.scrollTop = buf.view.scrollHeight;
}

function onViewScroll(buf) {
  if (buf !== state.active) return;
  buf.stick = atBottom(buf.view);
  if (buf.view.scrollTop < 60) loadOlder(buf);
}

/** Inserts a line element in time order (lines without a time go at the end). */
function insertLine(buf, node, time, { count = true } = {}) {
  if (buf.detached && count) {
    // Showing an older stretch: a live line would leave a gap; offer to jump instead.
    buf.missed = true;
    const btn = buf.view.querySelector('.to-latest');
    if (btn) btn.textContent = 'New messages — jump to the latest';
    return;
  }
  const view = buf.view;
  const follow = buf === state.active ? atBottom(view) : buf.stick;
  if (time) node.dataset.time = time;
  let before = null;
  if (time) {
    let cur = buf.log.lastElementChild;
    while (cur && cur.dataset.time && cur.dataset.time > time) {
      before = cur;
      cur = cur.previousElementSibling;
    }
  }
  buf.log.insertBefore(node, before);
  if (follow && !before) {
    buf.stick = true;
    if (buf === state.active) scrollToBottom(buf);
  }
  if (count && buf !== state.active) {
    buf.unread++;
    renderTab(buf);
  }
}

/** Adds an informational line (join/part/errors…) to a buffer. */
function addEvent(buf, text, { cls = 'event', time = null, count = false } = {}) {
  const d = time ? new Date(time) : new Date();
  const node = el('div', { class: `line ${cls}` },
    el('time', { class: 'ts', datetime: d.toISOString(), title: fmtDateTime(d), text: fmtStamp(d) }),
    el('span', { class: 'text' }, linkify(clean(text))));
  insertLine(buf, node, time, { count });
  if (buf === state.active) renderOlder(buf);
  return node;
}

function addError(text) {
  addEvent(state.active || statusBuffer(), text, { cls: 'error' });
}

/** A chat message element. m: { nick, text, time, msgid, action, notice } */
function messageNode(m) {
  const d = m.time ? new Date(m.time) : new Date();
  const self = lowerNick(m.nick) === lowerNick(state.me);
  const mention = !self && state.me && new RegExp(`(^|[^\\w])${state.me.replace(/[^\w]/g, '\\$&')}([^\\w]|$)`, 'i').test(m.text);
  const classes = ['line', 'msg'];
  if (m.action) classes.push('action');
  if (m.notice) classes.push('notice');
  if (self) classes.push('self');
  if (mention) classes.push('mention');
  const nick = el('span', { class: 'nick', hue: nickHue(m.nick), text: m.action ? `* ${m.nick}` : m.nick });
  const node = el('div', { class: classes.join(' '), 'data-nick': m.nick },
    el('time', { class: 'ts', datetime: d.toISOString(), title: fmtDateTime(d), text: fmtStamp(d) }),
    nick,
    el('span', { class: 'text' }, linkify(m.text)));
  if (m.msgid) node.dataset.msgid = m.msgid;
  return { node, mention };
}

function addMessage(buf, m, { live = true } = {}) {
  if (m.msgid) {
    if (buf.seen.has(m.msgid)) return null;
    buf.seen.add(m.msgid);
  }
  const { node, mention } = messageNode(m);
  insertLine(buf, node, m.time, { count: live });
  if (live && mention && buf !== state.active) { buf.mention = true; renderTab(buf); }
  if (m.msgid && (!buf.oldest || (m.time && m.time < (buf.oldestTime || '\uffff')))) {
    buf.oldest = m.msgid;
    buf.oldestTime = m.time;
  }
  return node;
}

/** The message object for a PRIVMSG/NOTICE line. */
function toMessage(msg) {
  let text = msg.params[1] ?? '';
  let action = false;
  const ctcp = /^\x01(\S+)(?: (.*?))?\x01?$/.exec(text);
  if (ctcp) {
    if (ctcp[1].toUpperCase() !== 'ACTION') return null; // other CTCPs are not shown
    action = true;
    text = ctcp[2] ?? '';
  }
  return {
    nick: msg.nick, target: msg.params[0], text: clean(text), action,
    notice: msg.command === 'NOTICE', time: msg.tags.time || null, msgid: msg.tags.msgid || null,
  };
}

// ---------------------------------------------------------------------------
// Members

function prefixRank(prefix) {
  if (!prefix) return state.prefixSymbols.length;
  return state.prefixSymbols.indexOf(prefix[0]);
}

function sortPrefix(p) {
  return [...new Set(p)].sort((a, b) => state.prefixSymbols.indexOf(a) - state.prefixSymbols.indexOf(b)).join('');
}

/** Splits "@+nick!user@host" into prefix and nick. */
function splitName(entry) {
  let i = 0;
  while (i < entry.length && state.prefixSymbols.includes(entry[i])) i++;
  const nick = entry.slice(i).split('!')[0];
  return { prefix: entry.slice(0, i), nick };
}

function setMember(buf, nick, prefix) {
  buf.members.set(lowerNick(nick), { nick, prefix: sortPrefix(prefix || '') });
  if (buf === state.active) renderMembers();
}

function removeMember(buf, nick) {
  const had = buf.members.delete(lowerNick(nick));
  clearTyping(buf, nick);
  if (had && buf === state.active) renderMembers();
  return had;
}

function renderMembers() {
  const buf = state.active;
  const list = $('members');
  list.replaceChildren();
  if (!buf || buf.kind !== 'room') { $('member-count').textContent = ''; return; }
  const members = [...buf.members.values()].sort((a, b) =>
    prefixRank(a.prefix) - prefixRank(b.prefix) || a.nick.localeCompare(b.nick, undefined, { sensitivity: 'base' }));
  for (const m of members) {
    const self = lowerNick(m.nick) === lowerNick(state.me);
    const title = m.prefix.includes('@') ? 'room operator' : m.prefix.includes('+') ? 'voiced' : '';
    list.append(el('li', { 'data-nick': m.nick },
      el('button', {
        type: 'button', class: self ? 'member self' : 'member', title: self ? 'you' : `Talk privately with ${m.nick}`,
        onclick: () => { if (!self) activate(getBuffer(m.nick)); },
      },
      el('span', { class: 'prefix', title, text: m.prefix }),
      el('span', { class: 'member-nick', hue: nickHue(m.nick), text: m.nick }))));
  }
  $('member-count').textContent = `(${members.length})`;
}

// ---------------------------------------------------------------------------
// Typing

function clearTyping(buf, nick) {
  const k = lowerNick(nick);
  const t = buf.typing.get(k);
  if (t) {
    clearTimeout(t.timer);
    buf.typing.delete(k);
    if (buf === state.active) renderTyping();
  }
}

function setTyping(buf, nick, value) {
  if (value === 'done') { clearTyping(buf, nick); return; }
  const k = lowerNick(nick);
  const old = buf.typing.get(k);
  if (old) clearTimeout(old.timer);
  buf.typing.set(k, { nick, paused: value === 'paused', timer: setTimeout(() => clearTyping(buf, nick), TYPING_EXPIRES_MS) });
  if (buf === state.active) renderTyping();
}

function renderTyping() {
  const buf = state.active;
  const who = buf ? [...buf.typing.values()].filter((t) => !t.paused).map((t) => t.nick) : [];
  const box = $('typing');
  if (!who.length) { box.textContent = ''; return; }
  box.textContent = who.length === 1 ? `${who[0]} is typing…`
    : who.length <= 3 ? `${who.slice(0, -1).join(', ')} and ${who[who.length - 1]} are typing…`
      : 'Several people are typing…';
}

function typingTargetOk(buf) {
  return buf && buf.kind !== 'status' && (buf.kind === 'query' || buf.joined) && has('message-tags');
}

function onInputChanged() {
  const buf = state.active;
  if (!typingTargetOk(buf)) return;
  const text = $('input').value;
  if (!text.trim() || text.startsWith('/')) { stopTyping(); return; }
  const now = Date.now();
  if (now - state.lastTypingSent >= TYPING_EVERY_MS) {
    send(`@+typing=active TAGMSG ${buf.name}`);
    state.lastTypingSent = now;
    state.typingTarget = buf.name;
  }
}

function stopTyping() {
  if (state.typingTarget) {
    send(`@+typing=done TAGMSG ${state.typingTarget}`);
  }
  state.typingTarget = null;
  state.lastTypingSent = 0;
}

// ---------------------------------------------------------------------------
// History

function loadLatest(buf) {
  if (!has('draft/chathistory') || buf.kind !== 'room') return;
  buf.loadingOlder = true;
  renderOlder(buf);
  request('CHATHISTORY', `CHATHISTORY LATEST ${buf.name} * ${HISTORY_PAGE}`, { kind: 'latest', target: buf.key });
}

function loadOlder(buf) {
  if (buf.kind !== 'room' || buf.historyDone || buf.loadingOlder || !buf.oldest || !buf.joined) return;
  if (!has('draft/chathistory')) return;
  buf.loadingOlder = true;
  renderOlder(buf);
  request('CHATHISTORY', `CHATHISTORY BEFORE ${buf.name} msgid=${buf.oldest} ${HISTORY_PAGE}`, { kind: 'before', target: buf.key });
}

function reloadLatest(buf) {
  buf.detached = false;
  buf.missed = false;
  buf.log.replaceChildren();
  buf.seen.clear();
  buf.oldest = null;
  buf.oldestTime = null;
  buf.historyDone = false;
  buf.stick = true;
  renderOlder(buf);
  loadLatest(buf);
}

/** Shows the message `msgid` of room `name` in context and highlights it. */
function jumpTo(name, msgid) {
  const buf = getBuffer(name, false);
  if (!buf) return;
  activate(buf);
  closeSearchOnPhone();
  const node = buf.log.querySelector(`[data-msgid="${CSS.escape(msgid)}"]`);
  if (node) { highlight(buf, node); return; }
  request('CHATHISTORY', `CHATHISTORY AROUND ${buf.name} msgid=${msgid} ${HISTORY_PAGE}`, { kind: 'around', target: buf.key, msgid });
}

function highlight(buf, node) {
  for (const old of buf.log.querySelectorAll('.highlight')) old.classList.remove('highlight');
  node.classList.add('highlight');
  node.scrollIntoView({ block: 'center' });
  buf.stick = atBottom(buf.view);
}

function onHistoryBatch(batch) {
  const req = takeRequest('CHATHISTORY', batch.label);
  const target = batch.params[0];
  const buf = getBuffer(target, false) || (req && state.buffers.get(req.target));
  if (!buf) return;
  const kind = req ? req.kind : 'latest';
  const msgs = batch.lines.filter((l) => l.command === 'PRIVMSG' || l.command === 'NOTICE')
    .map(toMessage).filter(Boolean);
  buf.loadingOlder = false;
  if (kind === 'around') {
    buf.log.replaceChildren();
    buf.seen.clear();
    buf.oldest = null;
    buf.oldestTime = null;
    buf.detached = true;
    buf.historyDone = false;
    for (const m of msgs) addMessage(buf, m, { live: false });
    const node = req && req.msgid && buf.log.querySelector(`[data-msgid="${CSS.escape(req.msgid)}"]`);
    renderOlder(buf);
    if (node) highlight(buf, node);
    return;
  }
  if (kind === 'before') {
    const view = buf.view;
    const h = view.scrollHeight;
    const top = view.scrollTop;
    const frag = document.createDocumentFragment();
    for (const m of msgs) {
      if (m.msgid && buf.seen.has(m.msgid)) continue;
      if (m.msgid) buf.seen.add(m.msgid);
      const { node } = messageNode(m);
      if (m.time) node.dataset.time = m.time;
      frag.append(node);
    }
    buf.log.prepend(frag);
    if (msgs.length) { buf.oldest = msgs[0].msgid; buf.oldestTime = msgs[0].time; }
    if (msgs.length < HISTORY_PAGE) buf.historyDone = true;
    renderOlder(buf);
    view.scrollTop = top + (view.scrollHeight - h);
    return;
  }
  // latest (on entry, or after a reconnect): merge by time, skipping what is shown.
  for (const m of msgs) addMessage(buf, m, { live: false });
  if (msgs.length < HISTORY_PAGE) buf.historyDone = true;
  renderOlder(buf);
  if (buf.stick && buf === state.active) scrollToBottom(buf);
}

// ---------------------------------------------------------------------------
// Search

function openSearch() {
  const panel = $('search-panel');
  panel.hidden = false;
  const sel = $('search-room');
  const current = state.active && state.active.kind === 'room' ? state.active.key : sel.value;
  sel.replaceChildren(el('option', { value: '', text: 'All my rooms' }));
  for (const b of state.buffers.values()) {
    if (b.kind === 'room' && b.joined) sel.append(el('option', { value: b.key, text: b.name }));
  }
  sel.value = [...sel.options].some((o) => o.value === current) ? current : '';
  $('search-text').focus();
}

function closeSearch() { $('search-panel').hidden = true; }

function closeSearchOnPhone() {
  if (!window.matchMedia('(min-width: 701px)').matches) closeSearch();
}

/** The UTC instant at local midnight of an <input type=date> value, RFC 3339. */
function dayStart(value, plusDays = 0) {
  const [y, m, d] = value.split('-').map(Number);
  return new Date(y, m - 1, d + plusDays).toISOString().replace(/\.000Z$/, 'Z');
}

function runSearch(ev) {
  ev.preventDefault();
  const status = $('search-status');
  const results = $('search-results');
  if (!has('soju.im/search')) { status.textContent = 'This server does not offer search.'; return; }
  const text = $('search-text').value.trim();
  const user = $('search-user').value.trim();
  const from = $('search-from').value;
  const to = $('search-to').value;
  if (!text && !user) { status.textContent = 'Give some keywords or a user to search for.'; return; }
  const attrs = [];
  const room = state.buffers.get($('search-room').value);
  if (room) attrs.push(`in=${escapeTag(room.name)}`);
  if (text) attrs.push(`text=${escapeTag(text)}`);
  if (user) attrs.push(`from=${escapeTag(user)}`);
  if (from) attrs.push(`after=${dayStart(from)}`);
  if (to) attrs.push(`before=${dayStart(to, 1)}`);
  attrs.push(`limit=${SEARCH_LIMIT}`);
  results.replaceChildren();
  status.textContent = 'Searching…';
  request('SEARCH', `SEARCH ${attrs.join(';')}`, { kind: 'search' });
}

function onSearchBatch(batch) {
  takeRequest('SEARCH', batch.label);
  const results = $('search-results');
  const msgs = batch.lines.filter((l) => l.command === 'PRIVMSG' || l.command === 'NOTICE');
  results.replaceChildren();
  for (const line of msgs) {
    const m = toMessage(line);
    if (!m) continue;
    const d = m.time ? new Date(m.time) : new Date();
    const canJump = m.msgid && getBuffer(m.target, false);
    const item = el('li', { class: 'result', 'data-msgid': m.msgid || '' },
      el('button', {
        type: 'button', disabled: !canJump, title: canJump ? 'Show in context' : '',
        onclick: () => jumpTo(m.target, m.msgid),
      },
      el('span', { class: 'result-meta' },
        el('span', { class: 'result-room', text: m.target }), ' ',
        el('time', { datetime: d.toISOString(), text: fmtDateTime(d) }), ' ',
        el('span', { class: 'nick', hue: nickHue(m.nick), text: m.action ? `* ${m.nick}` : m.nick })),
      el('span', { class: 'text', text: m.text })));
    results.append(item);
  }
  // Newest first reads best in a list of results.
  results.append(...[...results.children].reverse());
  $('search-status').textContent = msgs.length === 0 ? 'No messages found.'
    : msgs.length === 1 ? '1 message found.' : `${msgs.length} messages found${msgs.length >= SEARCH_LIMIT ? ' (the newest shown; narrow the search for more)' : ''}.`;
}

// ---------------------------------------------------------------------------
// Sending what the user typed

function sendText(buf, text, action = false) {
  if (!buf || buf.kind === 'status') { addError('Pick a room or a conversation first (or /join #room).'); return; }
  const overhead = action ? 9 : 0; // \x01ACTION … \x01
  for (const line of text.split(/\r?\n/)) {
    for (const piece of splitUtf8(line, MAX_TEXT_BYTES - overhead)) {
      const body = action ? `\x01ACTION ${piece}\x01` : piece;
      if (!send(`PRIVMSG ${buf.name} :${body}`)) { addError('Not connected: the message was not sent.'); return; }
      if (!has('echo-message')) addMessage(buf, { nick: state.me, text: piece, action, time: null, msgid: null });
    }
  }
}

const HELP = [
  '/join #room [key] — enter a room (several at once: each gets a tab)',
  '/part [#room] [reason] — leave the room',
  '/me text — an action',
  '/msg nick text — a private message (/query nick opens the conversation)',
  '/nick newname — change your name',
  '/topic [text] — show or set the topic',
  '/kick nick [reason] — remove someone (room operators)',
  '/search [words] — the history search panel',
  '/quit [reason] — leave the chat (back to the lobby)',
  '/quote LINE — send a raw IRC line',
];

function runCommand(line) {
  const buf = state.active;
  const m = /^\/(\S+)\s*([\s\S]*)$/.exec(line);
  if (!m) return;
  const cmd = m[1].toLowerCase();
  const args = m[2];
  const words = args.split(/\s+/).filter(Boolean);
  const room = buf && buf.kind === 'room' ? buf.name : null;
  switch (cmd) {
    case 'join': case 'j': {
      if (!words[0]) { addError('Usage: /join #room [key]'); return; }
      const name = isChannel(words[0]) ? words[0] : `#${words[0]}`;
      state.pendingJoin = { room: name, key: words[1] || '' };
      send(`JOIN ${name}${words[1] ? ` ${words[1]}` : ''}`);
      return;
    }
    case 'part': case 'leave': {
      let target = room;
      let reason = args;
      if (words[0] && isChannel(words[0])) { target = words[0]; reason = args.slice(args.indexOf(words[0]) + words[0].length).trim(); }
      if (!target) { if (buf && buf.kind === 'query') removeBuffer(buf); return; }
      send(`PART ${target}${reason ? ` :${reason}` : ''}`);
      return;
    }
    case 'me':
      if (args.trim()) sendText(buf, args, true);
      return;
    case 'msg': case 'query': {
      const nick = words[0];
      if (!nick) { addError(`Usage: /${cmd} nick [text]`); return; }
      const text = args.slice(args.indexOf(nick) + nick.length).replace(/^\s/, '');
      const target = getBuffer(nick);
      activate(target);
      if (text.trim()) sendText(target, text);
      return;
    }
    case 'nick':
      if (words[0]) send(`NICK ${words[0]}`);
      return;
    case 'topic':
      if (!room) { addError('/topic works in a room.'); return; }
      send(args.trim() ? `TOPIC ${room} :${args}` : `TOPIC ${room}`);
      return;
    case 'kick':
      if (!room || !words[0]) { addError('Usage (in a room): /kick nick [reason]'); return; }
      send(`KICK ${room} ${words[0]} :${args.slice(args.indexOf(words[0]) + words[0].length).trim()}`);
      return;
    case 'search':
      openSearch();
      if (args.trim()) $('search-text').value = args.trim();
      return;
    case 'quit':
      send(`QUIT${args.trim() ? ` :${args.trim()}` : ''}`);
      closeSocket();
      setStatus('');
      state.everRegistered = false;
      state.active = null;
      for (const b of [...state.buffers.values()]) removeBuffer(b);
      showLobby();
      return;
    case 'quote': case 'raw':
      if (args.trim()) send(args);
      return;
    case 'help':
      for (const h of HELP) addEvent(buf || statusBuffer(), h, { cls: 'info' });
      return;
    default:
      // Anything else goes to the server as a command (WHOIS, AWAY, MODE…).
      send(`${cmd.toUpperCase()}${args ? ` ${args}` : ''}`);
  }
}

function submitInput(ev) {
  if (ev) ev.preventDefault();
  const input = $('input');
  const text = input.value;
  if (!text.trim()) return;
  input.value = '';
  autoGrow();
  if (text.startsWith('/') && !text.startsWith('//')) {
    stopTyping();
    runCommand(text.trim());
  } else {
    const buf = state.active;
    sendText(buf, text.startsWith('//') ? text.slice(1) : text);
    stopTyping();
  }
}

function autoGrow() {
  const input = $('input');
  input.style.height = 'auto';
  input.style.height = `${Math.min(input.scrollHeight, 160)}px`;
}

// ---------------------------------------------------------------------------
// Connection

function wsURL() {
  return `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`;
}

function connect() {
  clearTimeout(state.reconnectTimer);
  clearInterval(state.countdownTimer);
  state.reconnectTimer = null;
  if (state.ws) {
    // A connection still being set up (a "Reconnect now" click): drop it, or it would hold the nick.
    const old = state.ws;
    state.ws = null;
    old.close();
  }
  state.closing = false;
  state.registered = false;
  state.caps = new Set();
  state.lsCaps = [];
  state.batches.clear();
  state.requests = [];
  let ws;
  try {
    ws = new WebSocket(wsURL(), ['text.ircv3.net']);
  } catch (e) {
    onClosed(null, `Could not connect: ${e.message}`);
    return;
  }
  state.ws = ws;
  if (state.everRegistered) setStatus('Connecting…');
  ws.addEventListener('open', () => {
    if (ws !== state.ws) return;
    send('CAP LS 302');
    send(`NICK :${state.wantedNick}`);
    send(`USER ${state.wantedNick.replace(/[^A-Za-z0-9._~-]/g, '').slice(0, 16) || 'web'} 0 * :${state.wantedNick}`);
  });
  ws.addEventListener('message', (ev) => {
    if (ws !== state.ws) return;
    const data = typeof ev.data === 'string' ? ev.data : '';
    for (const line of data.split(/\r?\n/)) if (line) handleLine(line);
  });
  ws.addEventListener('close', () => { if (ws === state.ws) onClosed(ws); });
}

function onClosed(ws, why) {
  state.ws = null;
  const wasRegistered = state.registered;
  state.registered = false;
  stopTypingLocal();
  if (state.closing) return;
  if (!state.everRegistered) {
    setLobbyBusy(false);
    if (!$('lobby-error').textContent) lobbyError(why || 'Could not reach the chat server. Is it running? Try again.');
    return;
  }
  if (wasRegistered) {
    for (const buf of state.buffers.values()) {
      if (buf.kind === 'room') {
        if (buf.joined) {
          addEvent(buf, 'Disconnected from the server.', { cls: 'error' });
          buf.joined = false;
          buf.rejoin = true;
        }
        buf.members.clear();
        for (const t of buf.typing.values()) clearTimeout(t.timer);
        buf.typing.clear();
        renderTab(buf);
      }
    }
    renderMembers();
    renderTyping();
  }
  scheduleReconnect();
}

function stopTypingLocal() {
  state.typingTarget = null;
  state.lastTypingSent = 0;
}

function scheduleReconnect() {
  let left = state.backoff;
  state.backoff = Math.min(state.backoff * 2, BACKOFF_MAX);
  const show = () => setStatus(`Disconnected — reconnecting in ${left} s…`, true);
  show();
  clearInterval(state.countdownTimer);
  state.countdownTimer = setInterval(() => { left = Math.max(left - 1, 0); show(); }, 1000);
  clearTimeout(state.reconnectTimer);
  state.reconnectTimer = setTimeout(() => { clearInterval(state.countdownTimer); connect(); }, left * 1000);
}

function setStatus(text, retry = false) {
  const box = $('status');
  box.hidden = !text;
  $('status-text').textContent = text || '';
  $('retry-now').hidden = !retry;
  document.body.classList.toggle('offline', !!text);
}

function closeSocket() {
  state.closing = true;
  if (state.ws) state.ws.close();
  state.ws = null;
}

// ---------------------------------------------------------------------------
// Incoming lines

function handleLine(line) {
  const msg = parseLine(line);
  if (msg.command === 'BATCH') { onBatch(msg); return; }
  const batchId = msg.tags.batch;
  if (batchId) {
    const batch = state.batches.get(batchId);
    if (batch && batch.collect) { batch.lines.push(msg); return; }
  }
  const handler = HANDLERS[msg.command];
  if (handler) handler(msg);
  else if (/^\d{3}$/.test(msg.command)) onNumeric(msg);
}

function onBatch(msg) {
  const ref = msg.params[0] || '';
  if (ref.startsWith('+')) {
    const id = ref.slice(1);
    const type = msg.params[1] || '';
    const collect = type === 'chathistory' || type === 'soju.im/search' || type === 'draft/chathistory-targets';
    state.batches.set(id, { type, params: msg.params.slice(2), lines: [], label: msg.tags.label, collect });
  } else if (ref.startsWith('-')) {
    const id = ref.slice(1);
    const batch = state.batches.get(id);
    state.batches.delete(id);
    if (!batch) return;
    if (batch.type === 'chathistory') onHistoryBatch(batch);
    else if (batch.type === 'soju.im/search') onSearchBatch(batch);
  }
}

function isMe(nick) { return !!nick && lowerNick(nick) === lowerNick(state.me); }

function roomsWith(nick) {
  return [...state.buffers.values()].filter((b) => b.kind === 'room' && b.members.has(lowerNick(nick)));
}

const HANDLERS = {
  PING(msg) { send(`PONG :${msg.params[msg.params.length - 1] ?? ''}`); },

  CAP(msg) {
    const sub = (msg.params[1] || '').toUpperCase();
    if (sub === 'LS') {
      const more = msg.params[2] === '*';
      const list = msg.params[more ? 3 : 2] || '';
      state.lsCaps.push(...list.split(' ').filter(Boolean).map((c) => c.split('=')[0]));
      if (more || state.registered) return;
      const want = WANTED_CAPS.filter((c) => state.lsCaps.includes(c));
      if (want.length) send(`CAP REQ :${want.join(' ')}`);
      else send('CAP END');
    } else if (sub === 'ACK') {
      for (const c of (msg.params[2] || '').split(' ').filter(Boolean)) {
        if (c.startsWith('-')) state.caps.delete(c.slice(1)); else state.caps.add(c);
      }
      if (!state.registered) send('CAP END');
    } else if (sub === 'NAK') {
      if (!state.registered) send('CAP END');
    }
  },

  ERROR(msg) {
    const text = msg.params[0] || 'Closing link';
    if (!state.everRegistered) lobbyError(text);
    else addEvent(statusBuffer(), text, { cls: 'error' });
  },

  JOIN(msg) {
    const room = msg.params[0];
    if (isMe(msg.nick)) {
      const buf = getBuffer(room);
      if (buf.name !== room) { buf.name = room; renderTab(buf); }
      buf.joined = true;
      buf.members.clear();
      const wanted = state.pendingJoin && bufKey(state.pendingJoin.room) === buf.key;
      if (wanted) { buf.roomKey = state.pendingJoin.key; state.pendingJoin = null; }
      addEvent(buf, `You joined ${room}`, { time: msg.tags.time });
      if (wanted || !state.active || state.active.kind === 'status') {
        showChat();
        activate(buf);
      }
      renderTab(buf);
      if (buf.detached) reloadLatest(buf); else loadLatest(buf);
      return;
    }
    const buf = getBuffer(room, false);
    if (!buf) return;
    setMember(buf, msg.nick, '');
    addEvent(buf, `${msg.nick} joined`, { time: msg.tags.time });
  },

  PART(msg) {
    const buf = getBuffer(msg.params[0], false);
    if (!buf) return;
    const reason = msg.params[1] ? ` (${clean(msg.params[1])})` : '';
    if (isMe(msg.nick)) { buf.joined = false; removeBuffer(buf); return; }
    removeMember(buf, msg.nick);
    addEvent(buf, `${msg.nick} left${reason}`, { time: msg.tags.time });
  },

  QUIT(msg) {
    const reason = msg.params[0] ? ` (${clean(msg.params[0])})` : '';
    for (const buf of roomsWith(msg.nick)) {
      removeMember(buf, msg.nick);
      addEvent(buf, `${msg.nick} quit${reason}`, { time: msg.tags.time });
    }
    const q = getBuffer(msg.nick, false);
    if (q && q.kind === 'query') addEvent(q, `${msg.nick} quit${reason}`, { time: msg.tags.time });
  },

  NICK(msg) {
    const old = msg.nick;
    const now = msg.params[0];
    if (isMe(old)) {
      state.me = now;
      state.wantedNick = now;
      try { localStorage.setItem('linechat.nick', now); } catch { /* private mode */ }
    }
    const who = isMe(now) ? `You are now known as ${now}` : `${old} is now known as ${now}`;
    for (const buf of roomsWith(old)) {
      const m = buf.members.get(lowerNick(old));
      buf.members.delete(lowerNick(old));
      setMember(buf, now, m ? m.prefix : '');
      clearTyping(buf, old);
      addEvent(buf, who, { time: msg.tags.time });
    }
    const q = getBuffer(old, false);
    if (q && q.kind === 'query' && !getBuffer(now, false)) {
      state.buffers.delete(q.key);
      q.key = bufKey(now);
      q.name = now;
      state.buffers.set(q.key, q);
      renderTab(q);
      addEvent(q, who, { time: msg.tags.time });
      if (q === state.active) renderHeader();
    }
  },

  KICK(msg) {
    const buf = getBuffer(msg.params[0], false);
    if (!buf) return;
    const target = msg.params[1];
    const reason = msg.params[2] ? ` (${clean(msg.params[2])})` : '';
    if (isMe(target)) {
      buf.joined = false;
      buf.members.clear();
      addEvent(buf, `You were kicked from ${buf.name} by ${msg.nick}${reason}`, { cls: 'error', time: msg.tags.time, count: true });
      renderTab(buf);
      if (buf === state.active) renderMembers();
      return;
    }
    removeMember(buf, target);
    addEvent(buf, `${target} was kicked by ${msg.nick}${reason}`, { time: msg.tags.time });
  },

  TOPIC(msg) {
    const buf = getBuffer(msg.params[0], false);
    if (!buf) return;
    buf.topic = clean(msg.params[1] || '');
    addEvent(buf, buf.topic ? `${msg.nick} changed the topic to: ${buf.topic}` : `${msg.nick} cleared the topic`, { time: msg.tags.time });
    if (buf === state.active) renderHeader();
  },

  MODE(msg) {
    const target = msg.params[0];
    if (!isChannel(target)) return;
    const buf = getBuffer(target, false);
    if (!buf) return;
    const [listModes, alwaysModes, setModes] = state.chanModes;
    let adding = true;
    let arg = 2;
    for (const c of msg.params[1] || '') {
      if (c === '+') { adding = true; continue; }
      if (c === '-') { adding = false; continue; }
      const pi = state.prefixModes.indexOf(c);
      if (pi >= 0) {
        const nick = msg.params[arg++];
        const m = nick && buf.members.get(lowerNick(nick));
        if (m) {
          const sym = state.prefixSymbols[pi];
          setMember(buf, m.nick, adding ? m.prefix + sym : m.prefix.replace(sym, ''));
        }
      } else if (listModes.includes(c) || alwaysModes.includes(c) || (adding && setModes.includes(c))) {
        arg++;
      }
    }
    addEvent(buf, `${msg.nick} set mode ${msg.params.slice(1).join(' ')}`, { time: msg.tags.time });
  },

  PRIVMSG(msg) { onMessage(msg); },
  NOTICE(msg) { onMessage(msg); },

  TAGMSG(msg) {
    const typing = msg.tags['+typing'];
    if (!typing || isMe(msg.nick)) return;
    let target = msg.params[0] || '';
    while (target && state.prefixSymbols.includes(target[0]) && isChannel(target.slice(1))) target = target.slice(1);
    const buf = isChannel(target) ? getBuffer(target, false) : getBuffer(msg.nick, false);
    if (buf) setTyping(buf, msg.nick, typing);
  },

  AWAY(msg) {
    const q = getBuffer(msg.nick, false);
    if (q && q.kind === 'query') addEvent(q, msg.params[0] ? `${msg.nick} is away: ${msg.params[0]}` : `${msg.nick} is back`);
  },

  INVITE(msg) {
    addEvent(state.active || statusBuffer(), `${msg.nick} invites ${msg.params[0]} to ${msg.params[1]} (type /join ${msg.params[1]})`, { cls: 'info', count: true });
  },

  FAIL(msg) {
    const cmd = msg.params[0];
    const text = msg.params[msg.params.length - 1] || 'failed';
    if (cmd === 'SEARCH') {
      takeRequest('SEARCH', msg.tags.label);
      $('search-status').textContent = text;
      return;
    }
    if (cmd === 'CHATHISTORY') {
      const req = takeRequest('CHATHISTORY', msg.tags.label);
      const buf = req && state.buffers.get(req.target);
      if (buf) { buf.loadingOlder = false; buf.historyDone = true; renderOlder(buf); addEvent(buf, text, { cls: 'error' }); return; }
    }
    addError(text);
  },

  WARN(msg) { addEvent(statusBuffer(), msg.params[msg.params.length - 1] || ''); },
  NOTE(msg) { addEvent(statusBuffer(), msg.params[msg.params.length - 1] || ''); },
};

function onMessage(msg) {
  const m = toMessage(msg);
  if (!m) return;
  let target = m.target || '';
  // STATUSMSG (@#room): shown in the room.
  while (target && state.prefixSymbols.includes(target[0]) && isChannel(target.slice(1))) target = target.slice(1);
  const fromServer = !msg.source.includes('!') && !msg.source.includes('@') && (msg.nick === state.serverName || !state.serverName || msg.nick.includes('.'));
  let buf;
  if (isChannel(target)) {
    buf = getBuffer(target, false);
    if (!buf) return;
  } else if (fromServer || !msg.nick) {
    buf = statusBuffer();
  } else {
    buf = getBuffer(isMe(msg.nick) ? target : msg.nick);
  }
  clearTyping(buf, m.nick);
  if (fromServer && msg.command === 'NOTICE') {
    addEvent(buf, m.text, { cls: 'notice server', time: m.time, count: true });
    return;
  }
  addMessage(buf, m, { live: true });
}

function onNumeric(msg) {
  const code = msg.command;
  const p = msg.params;
  const last = p[p.length - 1] || '';
  switch (code) {
    case '001':
      state.me = p[0];
      state.serverName = msg.source || state.serverName;
      state.registered = true;
      state.everRegistered = true;
      state.backoff = BACKOFF_MIN;
      state.nickTries = 0;
      try { localStorage.setItem('linechat.nick', state.me); } catch { /* private mode */ }
      setStatus('');
      setLobbyBusy(false);
      renderTab(statusBuffer());
      addEvent(statusBuffer(), last);
      afterRegistration();
      return;
    case '005':
      for (const tok of p.slice(1, -1)) {
        const [k, v = ''] = tok.split('=');
        if (k === 'PREFIX') {
          const pm = /^\(([^)]*)\)(.*)$/.exec(v);
          if (pm) { state.prefixModes = pm[1]; state.prefixSymbols = pm[2]; }
        } else if (k === 'CHANMODES') {
          state.chanModes = v.split(',').concat(['', '', '', '']).slice(0, 4);
        } else if (k === 'CHANTYPES') {
          state.chanTypes = v || '#';
        }
      }
      return;
    case '332': {
      const buf = getBuffer(p[1], false);
      if (buf) { buf.topic = clean(last); addEvent(buf, `Topic: ${buf.topic}`); if (buf === state.active) renderHeader(); }
      return;
    }
    case '331': {
      const buf = getBuffer(p[1], false);
      if (buf) { buf.topic = ''; if (buf === state.active) renderHeader(); }
      return;
    }
    case '333': return;
    case '353': {
      const buf = getBuffer(p[2], false);
      if (!buf || !buf.joined) break;
      if (!buf.newMembers) buf.newMembers = new Map();
      for (const entry of last.split(' ').filter(Boolean)) {
        const { prefix, nick } = splitName(entry);
        buf.newMembers.set(lowerNick(nick), { nick, prefix: sortPrefix(prefix) });
      }
      return;
    }
    case '366': {
      const buf = getBuffer(p[1], false);
      if (buf && buf.newMembers) {
        buf.members = buf.newMembers;
        buf.newMembers = null;
        if (buf === state.active) renderMembers();
        return;
      }
      if (buf) return;
      break;
    }
    case '301': {
      const q = getBuffer(p[1], false);
      if (q) addEvent(q, `${p[1]} is away: ${last}`);
      return;
    }
    default:
      break;
  }
  // Errors and the rest: the server's own words.
  const context = p.slice(1, -1).filter((x) => x !== '*');
  const text = context.length ? `${context.join(' ')}: ${last}` : last;
  if (NICK_ERRORS.has(code)) {
    if (!state.registered) {
      if (state.everRegistered && code === '433' && state.nickTries < 3) {
        // Reconnecting while the old connection still holds the nick.
        state.nickTries++;
        state.wantedNick = `${state.wantedNick}_`;
        send(`NICK :${state.wantedNick}`);
        return;
      }
      lobbyError(last.startsWith('Erroneous') || code !== '432' ? text : last);
      closeSocket();
      if (state.everRegistered) showLobby();
      setLobbyBusy(false);
      return;
    }
    addError(text);
    return;
  }
  if (JOIN_ERRORS.has(code) && state.pendingJoin && !$('lobby').hidden) {
    lobbyError(text);
    state.pendingJoin = null;
    setLobbyBusy(false);
    return;
  }
  if (JOIN_ERRORS.has(code) && state.pendingJoin) state.pendingJoin = null;
  if (STATUS_NUMERICS.has(code) || !state.registered) {
    addEvent(statusBuffer(), code === '004' ? p.slice(1).join(' ') : last);
    return;
  }
  const isError = code[0] === '4' || code[0] === '5';
  addEvent(state.active || statusBuffer(), text, { cls: isError ? 'error' : 'info' });
}

function afterRegistration() {
  // Rejoin the rooms we were in (after a reconnect), then the room asked for in the lobby.
  const rooms = [...state.buffers.values()].filter((b) => b.kind === 'room' && (b.joined || b.rejoin));
  for (const b of rooms) {
    b.joined = false;
    b.rejoin = false;
    send(`JOIN ${b.name}${b.roomKey ? ` ${b.roomKey}` : ''}`);
  }
  if (state.pendingJoin) {
    const { room, key } = state.pendingJoin;
    send(`JOIN ${room}${key ? ` ${key}` : ''}`);
  } else if (!rooms.length) {
    showChat();
    activate(statusBuffer());
  }
}

// ---------------------------------------------------------------------------
// Lobby

function lobbyError(text) {
  $('lobby-error').textContent = text;
}

function setLobbyBusy(busy) {
  $('enter').disabled = busy;
  $('enter').textContent = busy ? 'Connecting…' : 'Enter';
}

function showChat() {
  $('lobby').hidden = true;
  $('chat').hidden = false;
  document.body.classList.add('in-chat');
}

function showLobby() {
  $('chat').hidden = true;
  $('lobby').hidden = false;
  document.body.classList.remove('in-chat');
  loadRooms();
}

function onLobbySubmit(ev) {
  ev.preventDefault();
  lobbyError('');
  const nick = $('nick').value.trim();
  let room = $('room').value.trim();
  const key = $('key').value;
  if (!nick) { lobbyError('Please give a name.'); return; }
  if (room && !isChannel(room)) room = `#${room}`;
  if (/[\s,]/.test(room)) { lobbyError('A room name cannot contain spaces or commas.'); return; }
  state.pendingJoin = room ? { room, key } : null;
  if (state.ws && state.registered && isMe(nick)) {
    if (room) send(`JOIN ${room}${key ? ` ${key}` : ''}`);
    else { showChat(); activate(statusBuffer()); }
    return;
  }
  closeSocket();
  state.wantedNick = nick;
  state.everRegistered = false;
  setLobbyBusy(true);
  connect();
}

async function loadRooms() {
  const list = $('room-list');
  const note = $('room-list-note');
  try {
    const res = await fetch('/api/rooms', { cache: 'no-store' });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    const data = await res.json();
    const rooms = Array.isArray(data.rooms) ? data.rooms : [];
    list.replaceChildren();
    for (const r of rooms) {
      const name = String(r.name ?? '');
      const members = Number(r.members) || 0;
      const topic = clean(r.topic ?? '');
      list.append(el('li', { 'data-room': name },
        el('button', {
          type: 'button', class: 'room-choice',
          onclick: () => { $('room').value = name; $('key').value = ''; ($('nick').value ? $('enter') : $('nick')).focus(); },
        },
        el('span', { class: 'room-name', text: name }),
        el('span', { class: 'room-members', text: members === 1 ? '1 member' : `${members} members` }),
        el('span', { class: 'room-topic', text: topic }))));
    }
    note.textContent = rooms.length ? 'Pick a room, or type a new name to create one.' : 'No rooms yet: type a name to create one.';
  } catch {
    note.textContent = 'The list of rooms is not available; type a room name.';
  }
}

// ---------------------------------------------------------------------------
// Start

function init() {
  try { $('nick').value = localStorage.getItem('linechat.nick') || ''; } catch { /* private mode */ }
  const hash = decodeURIComponent(location.hash.slice(1));
  if (hash) $('room').value = hash.startsWith('#') ? hash : `#${hash}`;
  $('lobby-form').addEventListener('submit', onLobbySubmit);
  $('send-form').addEventListener('submit', submitInput);
  const input = $('input');
  input.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) submitInput(ev);
  });
  input.addEventListener('input', () => { autoGrow(); onInputChanged(); });
  $('search-toggle').addEventListener('click', () => ($('search-panel').hidden ? openSearch() : closeSearch()));
  $('search-close').addEventListener('click', closeSearch);
  $('search-form').addEventListener('submit', runSearch);
  $('members-toggle').addEventListener('click', () => document.body.classList.toggle('show-members'));
  $('members-close').addEventListener('click', () => document.body.classList.remove('show-members'));
  $('retry-now').addEventListener('click', () => { state.backoff = BACKOFF_MIN; connect(); });
  // Back online: no need to wait out the backoff.
  window.addEventListener('online', () => { if (state.reconnectTimer) connect(); });
  document.addEventListener('keydown', (ev) => {
    if (ev.key === 'Escape') { closeSearch(); document.body.classList.remove('show-members'); }
  });
  loadRooms();
}

init();
