// The server restarts under an open page: the page says it is reconnecting, registers again
// with the same name, rejoins its rooms, and the conversation goes on with a TCP client.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startServer, launchBrowser, newPage, enter, roomTab, waitForMessage, say, IrcClient, freshLogDir,
} from './harness.mjs';

let server;
let browser;
const clients = [];

before(async () => {
  server = await startServer({ logDir: freshLogDir() });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  for (const c of clients) c.close();
  await server?.stop();
});

test('the page reconnects by itself after a server restart and rejoins its rooms', async () => {
  const page = await newPage(browser);
  await enter(page, server, 'rita', '#phoenix');
  await say(page, '/join #second');
  await roomTab(page, '#second').waitFor();
  await roomTab(page, '#phoenix').locator('button').first().click();

  const tomA = new IrcClient(server.ircPort);
  clients.push(tomA);
  await tomA.register('tom');
  await tomA.join('#phoenix');
  await say(page, 'before the restart');
  await tomA.waitFor(/PRIVMSG #phoenix :before the restart$/);

  const { httpPort, logDir } = server;
  await server.stop('SIGTERM');
  await page.locator('#status', { hasText: /Disconnected — reconnecting in \d+ s…/ }).waitFor();
  assert.ok(await page.locator('#chat').isVisible(), 'the chat page stays');

  server = await startServer({ logDir, httpPort });
  await page.locator('#status').waitFor({ state: 'hidden' });
  // Both rooms are joined again (a room's tab is struck through while it is not).
  await page.waitForFunction(() => document.querySelectorAll('#buffer-list li[data-buffer^="#"]').length === 2
    && !document.querySelector('#buffer-list li.parted'));

  const tomB = new IrcClient(server.ircPort);
  clients.push(tomB);
  await tomB.register('tom2');
  await tomB.join('#phoenix');
  // The same nick is in both rooms again.
  const names = await tomB.waitFor(/ 353 tom2 [=@] #phoenix :/);
  assert.match(names, /[ :@+]rita( |$)/);
  tomB.send('NAMES #second');
  assert.match(await tomB.waitFor(/ 353 tom2 [=@] #second :/), /rita/);

  tomB.send('PRIVMSG #phoenix :hello after the restart');
  await waitForMessage(page, 'hello after the restart', { nick: 'tom2' });
  await say(page, 'and rita answers');
  await tomB.waitFor(/^:rita!\S+ PRIVMSG #phoenix :and rita answers$/);
  // What was said before the restart is still on the page, once.
  assert.equal(await page.locator('.view:not([hidden]) .line.msg', { hasText: 'before the restart' }).count(), 1);
  assert.deepEqual(page.errors, []);
});
