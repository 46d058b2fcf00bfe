// Two browser pages and a raw TCP client in one room: the lobby, messages both ways, members,
// typing, /me, private messages, long and Japanese text, a phone-sized screen, and markup that
// must stay text. Screenshots go to target/screenshots/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startServer, launchBrowser, newPage, enter, roomTab, activeLog, waitForMessage, say,
  IrcClient, shot,
} from './harness.mjs';

let server;
let browser;
let tess; // the telnet-style user (a raw TCP client)
let alice;
let bob;

before(async () => {
  server = await startServer();
  await server.waitForLog(/search index rebuilt/);
  browser = await launchBrowser();
  tess = new IrcClient(server.ircPort);
  await tess.register('tess');
  await tess.join('#general');
  tess.send('TOPIC #general :Welcome to the general room');
  await tess.waitFor(/ TOPIC #general :Welcome/);
});

after(async () => {
  await browser?.close();
  tess?.close();
  await server?.stop();
});

test('the lobby lists rooms with member counts and topics, and a click picks one', async () => {
  const page = await newPage(browser);
  await page.goto(server.url);
  const item = page.locator('#room-list li[data-room="#general"]');
  await item.waitFor();
  const text = await item.textContent();
  assert.match(text, /1 member/);
  assert.match(text, /Welcome to the general room/);
  await page.fill('#nick', 'alice');
  await item.locator('button').click();
  assert.equal(await page.inputValue('#room'), '#general');
  await shot(page, 'lobby.png');
  await page.click('#enter');
  await roomTab(page, '#general').waitFor();
  await page.waitForFunction(() => document.getElementById('topic').textContent === 'Welcome to the general room');
  alice = page;
});

test('bad names and a wrong room key get the server\'s own words in the lobby', async () => {
  const page = await newPage(browser);
  await page.goto(server.url);
  await page.fill('#nick', '1abc');
  await page.fill('#room', '#general');
  await page.click('#enter');
  await page.locator('#lobby-error', { hasText: 'Erroneous nickname' }).waitFor();
  assert.ok(await page.locator('#lobby').isVisible());

  await page.fill('#nick', 'tess');
  await page.click('#enter');
  await page.locator('#lobby-error', { hasText: 'already in use' }).waitFor();

  tess.send('JOIN #vault');
  await tess.waitFor(/ 366 tess #vault /);
  tess.send('MODE #vault +k sesame');
  await tess.waitFor(/ MODE #vault \+k/);
  await page.fill('#nick', 'keyholder');
  await page.fill('#room', '#vault');
  await page.click('#enter');
  await page.locator('#lobby-error', { hasText: 'wrong or missing key' }).waitFor();
  await page.fill('#key', 'sesame');
  await page.click('#enter');
  await roomTab(page, '#vault').waitFor();
  await page.context().close();
});

test('two pages and a TCP client exchange messages both ways', async () => {
  bob = await newPage(browser);
  await enter(bob, server, 'bob', '#general');
  tess.mark();

  await say(alice, 'hello from alice');
  await waitForMessage(bob, 'hello from alice', { nick: 'alice' });
  await tess.waitFor(/^:alice!\S+ PRIVMSG #general :hello from alice$/);
  await waitForMessage(alice, 'hello from alice'); // the echo, once

  tess.send('PRIVMSG #general :hi from telnet');
  await waitForMessage(alice, 'hi from telnet', { nick: 'tess' });
  await waitForMessage(bob, 'hi from telnet', { nick: 'tess' });

  await say(bob, 'bob here');
  await waitForMessage(alice, 'bob here', { nick: 'bob' });
  await tess.waitFor(/PRIVMSG #general :bob here$/);

  assert.equal(await activeLog(alice).locator('.line.msg', { hasText: 'hello from alice' }).count(), 1);
});

test('the member list marks operators and follows joins, modes, kicks and nick changes', async () => {
  const members = alice.locator('#members');
  await members.locator('li[data-nick="bob"]').waitFor();
  assert.equal(await members.locator('li[data-nick="tess"] .prefix').textContent(), '@');
  assert.equal(await members.locator('li[data-nick="alice"] .prefix').textContent(), '');

  tess.send('MODE #general +v bob');
  await alice.waitForFunction(() => document.querySelector('#members li[data-nick="bob"] .prefix')?.textContent === '+');

  const kim = new IrcClient(server.ircPort);
  await kim.register('kim');
  await kim.join('#general');
  await members.locator('li[data-nick="kim"]').waitFor();
  await activeLog(alice).locator('.line.event', { hasText: 'kim joined' }).waitFor();
  tess.send('KICK #general kim :no <b>bold</b> moves');
  await activeLog(alice).locator('.line.event', { hasText: 'kim was kicked by tess (no <b>bold</b> moves)' }).waitFor();
  await members.locator('li[data-nick="kim"]').waitFor({ state: 'detached' });
  kim.close();

  const nia = new IrcClient(server.ircPort);
  await nia.register('nia');
  await nia.join('#general');
  await members.locator('li[data-nick="nia"]').waitFor();
  nia.send('NICK nia2');
  await members.locator('li[data-nick="nia2"]').waitFor();
  await activeLog(bob).locator('.line.event', { hasText: 'nia is now known as nia2' }).waitFor();
  nia.send('PART #general :off home');
  await activeLog(alice).locator('.line.event', { hasText: 'nia2 left (off home)' }).waitFor();
  await members.locator('li[data-nick="nia2"]').waitFor({ state: 'detached' });
  nia.close();

  const quinn = new IrcClient(server.ircPort);
  await quinn.register('quinn');
  await quinn.join('#general');
  await members.locator('li[data-nick="quinn"]').waitFor();
  quinn.send('QUIT :see you');
  await activeLog(alice).locator('.line.event', { hasText: 'quinn quit (Quit: see you)' }).waitFor();
  await members.locator('li[data-nick="quinn"]').waitFor({ state: 'detached' });

  tess.send('TOPIC #general :Welcome, all');
  await activeLog(bob).locator('.line.event', { hasText: 'tess changed the topic to: Welcome, all' }).waitFor();
  await bob.waitForFunction(() => document.getElementById('topic').textContent === 'Welcome, all');
});

test('typing shows on the other page and clears when the box is emptied or the message sent', async () => {
  const typing = alice.locator('#typing');
  await bob.fill('#input', 'I am typi');
  await typing.filter({ hasText: 'bob is typing…' }).waitFor();
  await bob.fill('#input', '');
  await alice.waitForFunction(() => document.getElementById('typing').textContent === '');

  await bob.fill('#input', 'typing again');
  await typing.filter({ hasText: 'bob is typing…' }).waitFor();
  await bob.press('#input', 'Enter');
  await waitForMessage(alice, 'typing again', { nick: 'bob' });
  await alice.waitForFunction(() => document.getElementById('typing').textContent === '');
});

test('/me is an action, shown as "* nick text"', async () => {
  tess.mark();
  await say(alice, '/me waves hello');
  const line = activeLog(bob).locator('.line.msg.action', { hasText: 'waves hello' });
  await line.waitFor();
  assert.equal(await line.locator('.nick').textContent(), '* alice');
  await tess.waitFor(/PRIVMSG #general :\x01ACTION waves hello\x01$/);
});

test('Japanese text and long messages: split below the line limit, shown whole, no overflow', async () => {
  tess.mark();
  const japanese = 'こんにちは、日本語のテキストです。明日デプロイします';
  await say(bob, japanese);
  await waitForMessage(alice, japanese);
  await shot(alice, 'chat.png');

  // 3-byte characters, no spaces: must be cut between code points, each line under 400 bytes.
  const long = '長'.repeat(150) + '🙂'.repeat(80) + 'x'.repeat(300);
  await say(alice, long);
  await tess.waitFor(/PRIVMSG #general :x+$/);
  const pieces = tess.lines.filter((l) => l.startsWith(':alice!') && / PRIVMSG #general :/.test(l))
    .map((l) => l.slice(l.indexOf(' :', l.indexOf('PRIVMSG')) + 2));
  assert.ok(pieces.length >= 3, `split into ${pieces.length}`);
  for (const p of pieces) assert.ok(Buffer.byteLength(p) <= 400, `${Buffer.byteLength(p)} bytes`);
  assert.equal(pieces.join(''), long);

  const word = 'W'.repeat(600);
  await say(bob, word);
  await waitForMessage(alice, 'WWWW');
  const overflow = await alice.evaluate(() => {
    const view = document.querySelector('.view:not([hidden])');
    return view.scrollWidth - view.clientWidth;
  });
  assert.ok(overflow <= 0, `the view scrolls sideways by ${overflow}px`);
  await say(alice, 'see https://example.org/docs?q=1 and javascript:alert(1)');
  const link = activeLog(bob).locator('.line.msg a[href="https://example.org/docs?q=1"]');
  await link.waitFor();
  assert.equal(await link.getAttribute('rel'), 'noopener noreferrer');
  assert.equal(await activeLog(bob).locator('a[href^="javascript"]').count(), 0);
});

test('private messages between two pages, and from the TCP client', async () => {
  await alice.locator('#members li[data-nick="bob"] button').click();
  await alice.waitForFunction(() => document.getElementById('title').textContent === 'bob');
  await say(alice, 'psst bob, this is private');
  await activeLog(alice).locator('.line.msg', { hasText: 'psst bob' }).waitFor();

  const tab = roomTab(bob, 'alice');
  await tab.waitFor();
  await tab.locator('.badge').waitFor();
  await tab.locator('button').first().click();
  await waitForMessage(bob, 'psst bob, this is private', { nick: 'alice' });
  await say(bob, '/msg alice got it');
  await waitForMessage(alice, 'got it', { nick: 'bob' });

  tess.send('PRIVMSG alice :from telnet, privately');
  await roomTab(alice, 'tess').waitFor();
  await roomTab(alice, 'tess').locator('button').first().click();
  await waitForMessage(alice, 'from telnet, privately', { nick: 'tess' });
  // the room's messages did not leak in
  assert.equal(await activeLog(alice).locator('.line.msg', { hasText: 'hello from alice' }).count(), 0);
  await roomTab(alice, '#general').locator('button').first().click();
});

test('markup in messages, nicks, topics, room names and search results stays text', async () => {
  // This page ignores the page's Content-Security-Policy, so only the DOM building protects it.
  const carol = await newPage(browser, { bypassCSP: true });
  await enter(carol, server, 'carol', '#general');
  const img = '<img src=x onerror=window.__xss=1>';
  const script = '<script>window.__xss=1</script>';

  tess.send(`PRIVMSG #general :${img}`);
  tess.send(`PRIVMSG #general :${script}`);
  await say(alice, `${img} from alice ${script}`);
  await waitForMessage(carol, img, { nick: 'tess' });
  await waitForMessage(carol, script, { nick: 'tess' });
  await waitForMessage(carol, `${img} from alice ${script}`, { nick: 'alice' });

  tess.send(`TOPIC #general :${img} topic ${script}`);
  await carol.waitForFunction((t) => document.getElementById('topic').textContent === t, `${img} topic ${script}`);

  const room = '#<img/src=x/onerror=window.__xss=1>';
  await say(carol, `/join ${room}`);
  await roomTab(carol, room).waitFor();
  await carol.waitForFunction((r) => document.getElementById('title').textContent === r, room);
  await say(carol, `${script} in a strange room`);
  await waitForMessage(carol, 'in a strange room');
  // Another tab keeps the room listed in the lobby; carol leaves it with /part.
  const stay = await newPage(browser, { bypassCSP: true });
  await enter(stay, server, 'stay', room);
  await say(carol, '/part');
  await roomTab(carol, room).waitFor({ state: 'detached' });
  await carol.waitForFunction(() => document.getElementById('title').textContent === '#general');
  await activeLog(stay).locator('.line.event', { hasText: 'carol left' }).waitFor();

  // A nick with markup is refused by the server; its words are shown as text.
  const dave = await newPage(browser, { bypassCSP: true });
  await dave.goto(server.url);
  await dave.locator(`#room-list li[data-room="${room.replace(/"/g, '\\"')}"]`).waitFor();
  await dave.fill('#nick', '<svg/onload=window.__xss=1>');
  await dave.fill('#room', '#general');
  await dave.click('#enter');
  await dave.locator('#lobby-error', { hasText: 'Erroneous nickname' }).waitFor();
  assert.match(await dave.textContent('#lobby-error'), /<svg\/onload=window.__xss=1>/);
  // A nick with every special character IRC allows is shown as it is.
  await dave.fill('#nick', '[d]`a{v}|e^_\\');
  await dave.click('#enter');
  await roomTab(dave, '#general').waitFor();
  await say(dave, 'odd nick here');
  await waitForMessage(carol, 'odd nick here', { nick: '[d]`a{v}|e^_\\' });

  // Search results
  await carol.click('#search-toggle');
  await carol.fill('#search-text', 'onerror');
  await carol.click('#search-go');
  await carol.locator('#search-results li', { hasText: img }).first().waitFor();

  // A last round trip, so an injected image would have failed to load and fired by now.
  tess.send('PRIVMSG #general :sync after markup');
  for (const p of [alice, carol, dave]) await waitForMessage(p, 'sync after markup');
  for (const p of [alice, carol, dave, stay]) {
    assert.equal(await p.evaluate(() => window.__xss), undefined);
    assert.equal(await p.evaluate(() => document.querySelectorAll('#chat img, #chat script, #chat svg, #lobby img, #lobby svg').length), 0);
  }
  await carol.context().close();
  await dave.context().close();
  await stay.context().close();
});

test('a phone-sized screen: members behind a button, no sideways scrolling', async () => {
  const phone = await newPage(browser, { viewport: { width: 375, height: 667 }, isMobile: true, hasTouch: true });
  await phone.goto(server.url);
  await shot(phone, 'lobby-phone.png');
  await enter(phone, server, 'phoebe', '#general');
  await waitForMessage(phone, 'sync after markup');
  assert.equal(await phone.locator('#members-panel').isVisible(), false);
  await say(phone, 'こんにちは from a phone');
  await waitForMessage(alice, 'こんにちは from a phone');
  await shot(phone, 'chat-phone.png');
  const width = await phone.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(width <= 375, `page is ${width}px wide`);
  await phone.click('#members-toggle');
  await phone.locator('#members-panel').waitFor({ state: 'visible' });
  await phone.locator('#members li[data-nick="alice"]').waitFor();
  await shot(phone, 'chat-phone-members.png');
  await phone.click('#members-close');
  await phone.locator('#members-panel').waitFor({ state: 'hidden' });
  // The search panel fills the screen, and a result leads back to the room.
  await phone.click('#search-toggle');
  await phone.fill('#search-text', 'デプロイ');
  await phone.click('#search-go');
  await phone.locator('#search-results li', { hasText: '明日デプロイします' }).waitFor();
  await shot(phone, 'search-phone.png');
  await phone.locator('#search-results li button').first().click();
  await phone.locator('#search-panel').waitFor({ state: 'hidden' });
  await activeLog(phone).locator('.line.msg.highlight', { hasText: '明日デプロイします' }).waitFor();
  await phone.context().close();
  assert.deepEqual([...alice.errors, ...bob.errors], []);
});
