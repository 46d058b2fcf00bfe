// Shared pieces of the browser tests: the real chat-server, headless Chromium, a raw IRC client.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));

export const SERVER_BIN = process.env.LINECHAT_SERVER_BIN
  || path.resolve(here, '../../target/debug/chat-server');
export const CHROMIUM = process.env.LINECHAT_CHROMIUM || '/usr/bin/chromium';
export const SCREENSHOTS = process.env.LINECHAT_SCREENSHOTS
  || path.resolve(here, '../../target/screenshots');

/** Generous: a loaded 2-core CI machine, a debug build. */
export const T = 20_000;

export function freshLogDir() {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'linechat-browser-'));
}

/**
 * Starts chat-server on free ports (or the HTTP port given) and waits for both listeners.
 * Resolves to { proc, ircPort, httpPort, url, logDir, stop() }.
 */
export function startServer({ logDir = freshLogDir(), httpPort = 0, extraArgs = [] } = {}) {
  const args = ['--listen', '127.0.0.1:0', '--http-listen', `127.0.0.1:${httpPort}`,
    '--log-dir', logDir, ...extraArgs];
  const proc = spawn(SERVER_BIN, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  const exited = new Promise((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`chat-server did not report its listeners within ${T} ms:\n${log}`));
    }, T);
    let done = false;
    proc.stderr.on('data', (chunk) => {
      log += chunk.toString();
      if (process.env.LINECHAT_SERVER_LOG) process.stderr.write(chunk);
      if (done) return;
      const irc = /listening on 127\.0\.0\.1:(\d+) \(plain\)/.exec(log);
      const web = /web client at (http:\/\/127\.0\.0\.1:(\d+)\/)/.exec(log);
      if (irc && web) {
        done = true;
        clearTimeout(timer);
        resolve({
          proc, logDir, ircPort: Number(irc[1]), httpPort: Number(web[2]), url: web[1],
          log: () => log,
          /** Resolves once the server's log has a line matching re. */
          waitForLog(re, timeout = T) {
            return new Promise((res, rej) => {
              if (re.test(log)) { res(); return; }
              const t = setTimeout(() => { proc.stderr.off('data', on); rej(new Error(`no log line matching ${re} within ${timeout} ms:\n${log}`)); }, timeout);
              const on = () => { if (re.test(log)) { clearTimeout(t); proc.stderr.off('data', on); res(); } };
              proc.stderr.on('data', on);
            });
          },
          exited,
          async stop(signal = 'SIGTERM') {
            if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
            return exited;
          },
        });
      }
    });
    proc.once('error', (e) => { clearTimeout(timer); reject(e); });
    proc.once('exit', (code) => {
      if (!done) { clearTimeout(timer); reject(new Error(`chat-server exited (${code}) before listening:\n${log}`)); }
    });
  });
}

export function launchBrowser() {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

/** A page in its own context (its own storage), with page errors collected. */
export async function newPage(browser, { viewport = { width: 1100, height: 720 }, ...opts } = {}) {
  const context = await browser.newContext({ viewport, ...opts });
  const page = await context.newPage();
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(String(e)));
  page.setDefaultTimeout(T);
  return page;
}

/** From the lobby into a room: fills name and room, submits, waits for the room's tab. */
export async function enter(page, server, nick, room, { key = '' } = {}) {
  await page.goto(server.url);
  await page.fill('#nick', nick);
  await page.fill('#room', room);
  if (key) await page.fill('#key', key);
  await page.click('#enter');
  await page.locator('#chat').waitFor({ state: 'visible' });
  await roomTab(page, room).waitFor();
  await page.waitForFunction((r) => document.getElementById('title').textContent === r, room);
}

export function roomTab(page, name) {
  return page.locator(`#buffer-list li[data-buffer="${cssString(name)}"]`);
}

/** The visible message log. */
export function activeLog(page) {
  return page.locator('.view:not([hidden]) .log');
}

/** Waits until a message line containing text is visible in the active view. */
export async function waitForMessage(page, text, { nick } = {}) {
  const line = activeLog(page).locator('.line.msg', { hasText: text });
  const target = nick ? line.filter({ has: page.locator('.nick', { hasText: nick }) }) : line;
  await target.first().waitFor();
  return target.first();
}

export async function say(page, text) {
  await page.fill('#input', text);
  await page.press('#input', 'Enter');
}

function cssString(s) {
  return s.replace(/["\\]/g, '\\$&');
}

/** A raw IRC client over TCP (what a telnet user or a bot is). */
export class IrcClient {
  constructor(port) {
    this.lines = [];
    this.waiters = [];
    this.buf = '';
    this.sock = net.connect(port, '127.0.0.1');
    this.sock.setEncoding('utf8');
    this.sock.on('data', (d) => {
      this.buf += d;
      let i;
      while ((i = this.buf.indexOf('\n')) >= 0) {
        const line = this.buf.slice(0, i).replace(/\r$/, '');
        this.buf = this.buf.slice(i + 1);
        if (line.startsWith('PING')) this.send(`PONG ${line.slice(5)}`);
        this.lines.push(line);
        this.waiters = this.waiters.filter((w) => !w.test(line));
      }
    });
    this.sock.on('error', () => {});
    this.connected = new Promise((resolve) => this.sock.once('connect', resolve));
  }

  send(line) { this.sock.write(`${line}\r\n`); }

  /** Resolves with the first line (already received or future) matching re. */
  waitFor(re, timeout = T) {
    const seen = this.lines.find((l) => re.test(l));
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no line matching ${re} within ${timeout} ms; got:\n${this.lines.slice(-30).join('\n')}`)), timeout);
      this.waiters.push({ test: (l) => { if (!re.test(l)) return false; clearTimeout(timer); resolve(l); return true; } });
    });
  }

  /** Forgets the lines received so far (so waitFor only sees new ones). */
  mark() { this.lines = []; }

  async register(nick) {
    await this.connected;
    this.send(`NICK ${nick}`);
    this.send(`USER ${nick} 0 * :${nick}`);
    await this.waitFor(/^:\S+ 001 /);
  }

  async join(room) {
    this.send(`JOIN ${room}`);
    await this.waitFor(new RegExp(`^:\\S+ 366 \\S+ ${room.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} `, 'i'));
  }

  close() {
    this.send('QUIT');
    this.sock.end();
  }
}

export function shot(page, name) {
  fs.mkdirSync(SCREENSHOTS, { recursive: true });
  return page.screenshot({ path: path.join(SCREENSHOTS, name), fullPage: false });
}
