// History and search from the browser: the room's recent messages on entry, older ones when
// scrolled to the top (CHATHISTORY), and the search panel by keyword, user and date range,
// jumping to a result in context.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {
  startServer, launchBrowser, newPage, enter, activeLog, waitForMessage, IrcClient, freshLogDir, shot,
} from './harness.mjs';

const SENT = 130;
let server;
let browser;
let hist;

before(async () => {
  // Two rows from long ago, as an archive from last year would hold them.
  const logDir = freshLogDir();
  fs.writeFileSync(path.join(logDir, 'history_history.csv'), [
    'timestamp,username,message',
    '2025-03-10T12:00:00.000Z,alice,release planning for march',
    '2025-06-15T12:00:00.000Z,bob,"release notes for june, finally"',
    '',
  ].join('\n'));
  server = await startServer({ logDir, extraArgs: ['--flood-rate', '0'] });
  // The index of the seeded archive is built at start-up; SEARCH answers UNAVAILABLE until then.
  await server.waitForLog(/search index rebuilt/);
  browser = await launchBrowser();
  hist = new IrcClient(server.ircPort);
  await hist.register('hist');
  await hist.join('#history');
  for (let i = 1; i <= SENT; i++) {
    hist.send(`PRIVMSG #history :history line ${i}${i === 3 ? ' the kumquat deploy is done' : ''}`);
  }
  // Lines are handled in order: once the PONG is back, every message is archived.
  hist.send('PING :all-sent');
  await hist.waitFor(/PONG .*all-sent/);
});

after(async () => {
  await browser?.close();
  hist?.close();
  await server?.stop();
});

function msgCount(page) {
  return activeLog(page).locator('.line.msg').count();
}

async function scrollToTop(page) {
  await page.evaluate(() => {
    const view = document.querySelector('.view:not([hidden])');
    view.scrollTop = 0;
    view.dispatchEvent(new Event('scroll'));
  });
}

test('the recent history appears on entry, older history loads on scrolling up', async () => {
  const page = await newPage(browser);
  await enter(page, server, 'reader', '#history');
  await waitForMessage(page, `history line ${SENT}`, { nick: 'hist' });
  await waitForMessage(page, `history line ${SENT - 49}`);
  assert.equal(await msgCount(page), 50);
  assert.equal(await activeLog(page).locator('.line.msg', { hasText: `history line ${SENT - 50}` }).count(), 0);
  // The newest message is in view.
  assert.ok(await page.evaluate(() => {
    const v = document.querySelector('.view:not([hidden])');
    return v.scrollHeight - v.scrollTop - v.clientHeight < 48;
  }));

  await scrollToTop(page);
  await waitForMessage(page, `history line ${SENT - 99}`);
  assert.equal(await msgCount(page), 100);
  // The page stays where the reader was, rather than jumping to the top.
  assert.ok(await page.evaluate(() => document.querySelector('.view:not([hidden])').scrollTop > 0));

  await scrollToTop(page);
  await waitForMessage(page, 'release planning for march', { nick: 'alice' });
  await page.locator('.view:not([hidden]) .history-start').waitFor();
  assert.equal(await msgCount(page), SENT + 2);
  // In order: the oldest first.
  const texts = await activeLog(page).locator('.line.msg .text').allTextContents();
  assert.equal(texts[0], 'release planning for march');
  assert.equal(texts[2], 'history line 1');
  assert.equal(texts[texts.length - 1], `history line ${SENT}`);

  // A live message still arrives at the bottom.
  hist.send('PRIVMSG #history :live after history');
  await waitForMessage(page, 'live after history');
  const last = await activeLog(page).locator('.line.msg .text').last().textContent();
  assert.equal(last, 'live after history');
  await page.context().close();
});

/** Fills the search form, runs it and waits for its answer. */
async function search(page, { text = '', user = '', from = '', to = '' }) {
  if (await page.locator('#search-panel').isHidden()) await page.click('#search-toggle');
  await page.fill('#search-text', text);
  await page.fill('#search-user', user);
  await page.fill('#search-from', from);
  await page.fill('#search-to', to);
  await page.click('#search-go');
  await page.waitForFunction(() => !/^Searching/.test(document.getElementById('search-status').textContent));
  return page.textContent('#search-status');
}

function results(page) {
  return page.locator('#search-results li .text').allTextContents();
}

test('search by keyword, and a click shows the message in context', async () => {
  const page = await newPage(browser);
  await enter(page, server, 'seeker', '#history');
  await waitForMessage(page, `history line ${SENT}`);

  const status = await search(page, { text: 'kumquat' });
  assert.match(status, /1 message found/);
  assert.deepEqual(await results(page), ['history line 3 the kumquat deploy is done']);

  // Not loaded yet (only the latest 50 are): the page asks for the messages around it.
  await page.locator('#search-results li button').first().click();
  const hit = activeLog(page).locator('.line.msg.highlight');
  await hit.waitFor();
  assert.match(await hit.textContent(), /kumquat/);
  await waitForMessage(page, 'history line 2');
  await waitForMessage(page, 'history line 20');
  assert.ok(await hit.isVisible());
  await shot(page, 'search.png');

  await page.locator('.view:not([hidden]) .to-latest').click();
  await waitForMessage(page, `history line ${SENT}`);
  assert.equal(await activeLog(page).locator('.line.msg', { hasText: 'kumquat' }).count(), 0);

  const none = await search(page, { text: 'nosuchwordanywhere' });
  assert.match(none, /No messages found/);
  await page.context().close();
});

test('search by user and by date range', async () => {
  const page = await newPage(browser);
  await enter(page, server, 'dater', '#history');
  await waitForMessage(page, `history line ${SENT}`);

  let status = await search(page, { text: 'release', from: '2025-03-01', to: '2025-03-31' });
  assert.match(status, /1 message found/);
  assert.deepEqual(await results(page), ['release planning for march']);

  status = await search(page, { text: 'release', from: '2025-06-01' });
  assert.deepEqual(await results(page), ['release notes for june, finally']);

  status = await search(page, { text: 'release', to: '2025-12-31' });
  assert.match(status, /2 messages found/);
  assert.deepEqual(await results(page), ['release notes for june, finally', 'release planning for march']);

  status = await search(page, { text: 'release', from: '2024-01-01', to: '2024-12-31' });
  assert.match(status, /No messages found/);

  status = await search(page, { user: 'alice' });
  assert.deepEqual(await results(page), ['release planning for march']);

  // Today's messages are found with today's date as the range.
  const today = await page.evaluate(() => {
    const d = new Date();
    return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
  });
  status = await search(page, { text: 'kumquat', from: today, to: today });
  assert.deepEqual(await results(page), ['history line 3 the kumquat deploy is done']);

  // Click the march result: it is shown in context in the room.
  await search(page, { text: 'march' });
  await page.locator('#search-results li button').first().click();
  const hit = activeLog(page).locator('.line.msg.highlight');
  await hit.waitFor();
  assert.match(await hit.textContent(), /release planning for march/);
  assert.deepEqual(page.errors, []);
  await page.context().close();
});
