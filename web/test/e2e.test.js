// End to end: Debian's Chromium (headless, driven by playwright-core) against a real parleyd
// serving the built web client. Alice, Bob and Carol each have their own browser context.
// Screenshots of the main screens go to test-artifacts/screenshots/.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { chromium } from 'playwright-core';

import { ParleyClient } from '../../clients/js/src/index.js';
import { repoRoot, startParleyd } from '../../clients/js/test/support/parleyd.js';

const webRoot = path.join(repoRoot, 'web/dist');
const shots = path.join(repoRoot, 'test-artifacts/screenshots');
const PASSWORD = 'correct horse battery';
const WAIT = { timeout: 20_000 };
const SLOW_WAIT = { timeout: 45_000 };

const CHROMIUM_ARGS = [
  '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--disable-quic',
];

/** Person on their own browser context. */
class Person {
  constructor(name, displayName, context, page) {
    this.username = name;
    this.displayName = displayName;
    this.context = context;
    this.page = page;
  }

  messages(text) {
    return this.page.locator('li.msg', { hasText: text });
  }

  /** Messages whose own text (not a quote of it) is exactly `text`. */
  exactly(text) {
    const re = new RegExp(`^${text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`);
    return this.page.locator('li.msg .bubble > p.text').filter({ hasText: re });
  }

  composer() {
    return this.page.getByRole('textbox', { name: 'Message' });
  }

  async send(text) {
    await this.composer().fill(text);
    await this.composer().press('Enter');
  }

  /** The conversation list entry named exactly `name`. */
  conv(name) {
    const exact = new RegExp(`^${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`);
    return this.page.locator('a.conv')
      .filter({ has: this.page.locator('.conv-name', { hasText: exact }) });
  }

  async openChat(name) {
    await this.conv(name).click();
    await this.page.locator('.chat-head h2', { hasText: name }).waitFor(WAIT);
  }

  async snap(name) {
    await this.page.screenshot({ path: path.join(shots, `${name}.png`) });
  }
}

describe('web client end to end', () => {
  let server;
  let browser;
  let dataDir;
  let port;
  const errors = [];
  /** @type {Record<string, Person>} */
  const people = {};

  async function person(name, displayName, options = {}) {
    const context = await browser.newContext({
      viewport: { width: 1180, height: 760 },
      deviceScaleFactor: 1,
      ...options,
    });
    const page = await context.newPage();
    page.on('pageerror', (e) => errors.push(`${name}: ${e.message}`));
    page.on('console', (m) => {
      if (m.type() === 'error' && !/WebSocket|ERR_CONNECTION_REFUSED|Failed to load resource/.test(m.text())) {
        errors.push(`${name}: ${m.text()}`);
      }
    });
    const p = new Person(name, displayName, context, page);
    people[name] = p;
    return p;
  }

  async function register(p) {
    await p.page.goto(server.url);
    await p.page.getByRole('tab', { name: 'Create account' }).click();
    await p.page.getByLabel('Username').fill(p.username);
    await p.page.getByLabel('Display name').fill(p.displayName);
    await p.page.getByLabel('Password').fill(PASSWORD);
    await p.page.getByRole('button', { name: 'Create account' }).last().click();
    await p.page.getByRole('complementary', { name: 'Conversations' }).waitFor(WAIT);
  }

  before(async () => {
    if (!existsSync(path.join(webRoot, 'index.html'))) {
      execFileSync('node', [path.join(repoRoot, 'web/build.mjs')], { stdio: 'inherit' });
    }
    rmSync(shots, { recursive: true, force: true });
    mkdirSync(shots, { recursive: true });
    server = await startParleyd({ webRoot });
    dataDir = server.dataDir;
    port = server.port;
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  test('parleyd serves the app: SPA routes, ETag, 304, immutable hashed assets, gzip', async () => {
    const index = await fetch(`${server.url}/`);
    assert.equal(index.status, 200);
    assert.match(index.headers.get('content-type'), /text\/html/);
    assert.equal(index.headers.get('cache-control'), 'no-cache');
    const html = await index.text();
    const etag = index.headers.get('etag');
    assert.ok(etag);
    const again = await fetch(`${server.url}/`, { headers: { 'If-None-Match': etag } });
    assert.equal(again.status, 304);

    const route = await fetch(`${server.url}/c/c_whatever`);
    assert.equal(route.status, 200);
    assert.equal(await route.text(), html);

    const script = /src="(\/assets\/app-[A-Z0-9]+\.js)"/.exec(html)[1];
    assert.doesNotMatch(html, /https?:\/\//, 'no external assets');
    const js = await fetch(`${server.url}${script}`, { headers: { 'Accept-Encoding': 'gzip' } });
    assert.equal(js.status, 200);
    assert.equal(js.headers.get('cache-control'), 'public, max-age=31536000, immutable');
    assert.equal(js.headers.get('content-encoding'), 'gzip');
    assert.equal(js.headers.get('vary'), 'Accept-Encoding');
    assert.ok((await js.text()).length > 1000);

    const api = await fetch(`${server.url}/v1/nope`);
    assert.equal(api.status, 404);
    assert.equal((await api.json()).error.code, 'not_found');
    assert.equal((await fetch(`${server.url}/assets/missing-ABCDEFGH.js`)).status, 404);
  });

  test('alice and bob register, start a direct chat and talk live', async () => {
    const alice = await person('alice', 'Alice Liddell');
    const bob = await person('bob', 'Bob Marley');
    await alice.page.goto(server.url);
    await alice.snap('01-sign-in');
    await register(alice);
    await register(bob);
    await alice.snap('02-welcome');
    for (const p of [alice, bob]) {
      await p.page.getByRole('button', { name: 'Not now' }).click();
    }

    await alice.page.getByRole('button', { name: 'New chat' }).first().click();
    await alice.page.getByLabel('Their username').fill(bob.username);
    await alice.snap('03-new-chat');
    await alice.page.getByRole('button', { name: 'Start chat' }).click();
    await alice.page.locator('.chat-head h2', { hasText: 'Bob Marley' }).waitFor(WAIT);

    await alice.send('Hi Bob! 👋 Are you around?');
    await alice.messages('Are you around?').locator('.tick[data-status]').waitFor(WAIT);

    // Bob sees the chat appear with an unread badge and a preview.
    const bobItem = bob.page.locator('a.conv', { hasText: 'Alice Liddell' });
    await bobItem.locator('.badge', { hasText: '1' }).waitFor(WAIT);
    assert.match(await bobItem.locator('.conv-preview').innerText(), /Are you around\?/);
    await bob.snap('04-unread-badge');

    // Delivered before Bob opens it, read once he does.
    await alice.messages('Are you around?').locator('.tick[data-status="delivered"]').waitFor(WAIT);
    await bob.openChat('Alice Liddell');
    await bob.messages('Are you around?').waitFor(WAIT);
    await alice.messages('Are you around?').locator('.tick[data-status="read"]').waitFor(WAIT);

    // Typing shows at Alice while Bob types; his multi-line message arrives whole.
    await bob.composer().click();
    await bob.composer().pressSequentially('Yes!');
    await alice.page.locator('.typing-indicator.visible', { hasText: 'Bob Marley is typing' }).waitFor(WAIT);
    await alice.snap('05-typing');
    await bob.composer().press('Shift+Enter');
    await bob.composer().pressSequentially('Just got home.');
    await bob.composer().press('Enter');
    const multi = alice.messages('Just got home.');
    await multi.waitFor(WAIT);
    assert.equal(await multi.locator('.text').innerText(), 'Yes!\nJust got home.');
    assert.equal(await bob.composer().inputValue(), '');

    await alice.send('Great. Tea at five?');
    await bob.messages('Tea at five?').waitFor(WAIT);
    await bob.send('Perfect, see you then 🍵');
    await alice.messages('see you then').waitFor(WAIT);
    await alice.snap('06-chat-desktop');
  });

  test('bob reloads and the history is there', async () => {
    const { bob } = people;
    await bob.page.reload();
    await bob.page.locator('.chat-head h2', { hasText: 'Alice Liddell' }).waitFor(WAIT);
    for (const text of ['Are you around?', 'Just got home.', 'Tea at five?', 'see you then']) {
      await bob.messages(text).waitFor(WAIT);
    }
    assert.equal(await bob.page.locator('li.msg').count(), 4);
    assert.equal(await bob.page.locator('.day', { hasText: 'Today' }).count(), 1);
  });

  test('edits, replies, reactions and deletes reach the other side', async () => {
    const { alice, bob } = people;
    // Edit with the hover action.
    await alice.messages('Tea at five?').hover();
    await alice.messages('Tea at five?').getByRole('button', { name: 'Edit' }).click();
    await alice.composer().fill('Tea at half past five?');
    await alice.composer().press('Enter');
    const edited = bob.messages('Tea at half past five?');
    await edited.locator('.edited').waitFor(WAIT);

    // Bob reacts; Alice sees the count.
    await bob.messages('half past five').hover();
    await bob.messages('half past five').getByRole('button', { name: 'React' }).click();
    await bob.page.getByRole('menuitem', { name: 'React with 👍' }).click();
    await alice.messages('half past five').locator('.reaction', { hasText: '👍' })
      .locator('.count', { hasText: '1' }).waitFor(WAIT);
    // Alice adds the same one: two.
    await alice.messages('half past five').locator('.reaction', { hasText: '👍' }).click();
    await bob.messages('half past five').locator('.reaction', { hasText: '👍' })
      .locator('.count', { hasText: '2' }).waitFor(WAIT);

    // Bob replies with a quote.
    await bob.messages('half past five').hover();
    await bob.messages('half past five').getByRole('button', { name: 'Reply' }).click();
    await bob.send('Half past five works.');
    await alice.messages('Half past five works.').locator('.quote', { hasText: 'Tea at half past five?' })
      .waitFor(WAIT);

    // Alice writes something and takes it back.
    await alice.send('Oops, wrong chat');
    await bob.messages('Oops, wrong chat').waitFor(WAIT);
    await alice.messages('Oops, wrong chat').hover();
    await alice.messages('Oops, wrong chat').getByRole('button', { name: 'Delete' }).click();
    await alice.page.getByRole('dialog').getByRole('button', { name: 'Delete' }).click();
    await bob.page.locator('li.msg', { hasText: 'This message was deleted' }).waitFor(WAIT);
    assert.equal(await bob.messages('Oops, wrong chat').count(), 0);
    await alice.snap('07-edits-reactions-replies');
  });

  test('the server restarts mid-conversation: both recover and keep every message once', async () => {
    const { alice, bob } = people;
    await server.stop();
    for (const p of [alice, bob]) {
      await p.page.locator('.banner.offline').waitFor(WAIT);
    }
    // Written while the server is down: shown at once as pending, sent after the restart.
    await alice.send('Sent while the server was down');
    await alice.messages('Sent while the server was down').locator('.tick.pending').waitFor(WAIT);
    await bob.send('Me too, from the other side');
    await alice.snap('08-offline-pending');

    server = await startParleyd({ webRoot, dataDir, port });
    for (const p of [alice, bob]) {
      await p.page.locator('.banner').waitFor({ state: 'detached', ...SLOW_WAIT });
    }
    await bob.messages('Sent while the server was down').waitFor(SLOW_WAIT);
    await alice.messages('Me too, from the other side').waitFor(SLOW_WAIT);
    await alice.messages('Sent while the server was down').locator('.tick[data-status]').waitFor(WAIT);

    await alice.send('Back online');
    await bob.messages('Back online').waitFor(WAIT);
    for (const p of [alice, bob]) {
      for (const text of ['Hi Bob! 👋 Are you around?', 'Yes!\nJust got home.',
        'Tea at half past five?', 'Half past five works.', 'Sent while the server was down',
        'Me too, from the other side', 'Back online']) {
        assert.equal(await p.exactly(text).count(), 1, `${p.username} holds "${text}" once`);
      }
      assert.equal(await p.page.locator('li.msg.pending, li.msg.failed').count(), 0);
    }
    assert.equal(await alice.page.locator('li.msg').count(), await bob.page.locator('li.msg').count());
  });

  test('search finds a message and opens the chat at it', async () => {
    const { alice } = people;
    await alice.page.getByRole('searchbox', { name: 'Search messages' }).fill('server down');
    const result = alice.page.locator('.result', { hasText: 'Sent while the server was down' });
    await result.waitFor(WAIT);
    await alice.snap('09-search');
    await result.click();
    await alice.page.locator('li.msg.highlight', { hasText: 'Sent while the server was down' }).waitFor(WAIT);
  });

  test('a group of three: create, talk, rename, remove and leave', async () => {
    const { alice, bob } = people;
    const carol = await person('carol', 'Carol Danvers');
    await register(carol);
    await carol.page.getByRole('button', { name: 'Not now' }).click();

    await alice.page.getByRole('button', { name: 'New chat' }).first().click();
    await alice.page.getByRole('tab', { name: 'New group' }).click();
    await alice.page.getByLabel('Group name').fill('Tea party');
    for (const p of [bob, carol]) {
      await alice.page.getByLabel('Add people by username').fill(p.username);
      await alice.page.getByRole('button', { name: 'Add', exact: true }).click();
      await alice.page.locator('.chip', { hasText: p.displayName }).waitFor(WAIT);
    }
    await alice.page.getByRole('button', { name: 'Create group' }).click();
    await alice.page.locator('.chat-head h2', { hasText: 'Tea party' }).waitFor(WAIT);

    await alice.send('Welcome to the tea party!');
    for (const p of [bob, carol]) {
      await p.openChat('Tea party');
      await p.messages('Welcome to the tea party!').waitFor(WAIT);
    }
    await carol.send('Thanks for having me ☕');
    await bob.send('I brought scones');
    for (const p of [alice, bob, carol]) {
      await p.messages('Thanks for having me').waitFor(WAIT);
      await p.messages('I brought scones').waitFor(WAIT);
    }
    // Sender names and initials in a group.
    await alice.messages('I brought scones').locator('.sender-name', { hasText: 'Bob Marley' }).waitFor(WAIT);
    await alice.snap('10-group');
    // Everything in the direct chat was read while it was open, the restart included.
    assert.equal(await alice.conv('Bob Marley').locator('.badge').count(), 0);

    // Rename and remove Carol from the details dialog.
    await alice.page.getByRole('button', { name: 'Group details' }).click();
    const dialog = alice.page.getByRole('dialog');
    await dialog.getByLabel('Group name').fill('Mad tea party');
    await dialog.getByRole('button', { name: 'Rename' }).click();
    await carol.page.locator('.chat-head h2', { hasText: 'Mad tea party' }).waitFor(WAIT);
    await alice.snap('11-group-details');
    await dialog.getByRole('button', { name: 'Remove Carol Danvers' }).click();
    await carol.page.locator('a.conv', { hasText: 'Mad tea party' }).waitFor({ state: 'detached', ...WAIT });
    await dialog.getByRole('button', { name: 'Close' }).click();
    await bob.page.locator('li.system', { hasText: 'removed Carol Danvers' }).waitFor(WAIT);

    // Bob leaves.
    await bob.page.getByRole('button', { name: 'Group details' }).click();
    await bob.page.getByRole('button', { name: /^Leave/ }).click();
    await bob.page.getByRole('dialog').getByRole('button', { name: 'Leave' }).click();
    await bob.page.locator('a.conv', { hasText: 'Mad tea party' }).waitFor({ state: 'detached', ...WAIT });
    await alice.page.locator('li.system', { hasText: 'Bob Marley left' }).waitFor(WAIT);
  });

  test('history scrolls back page by page to the beginning', async () => {
    const { carol } = people;
    // Carol is away while Alice writes, so that what she finds on her return is history to
    // page through. (Had her page stayed open, the messages would arrive live, all or some of
    // them depending on timing, and the first page would not be the only one held.)
    await carol.page.goto('about:blank');
    // Alice writes 130 messages to Carol from another device (the library, in Node).
    const device = new ParleyClient({ baseUrl: server.url });
    await device.login({ username: 'alice', password: PASSWORD });
    device.start();
    await device.whenOnline();
    const peer = await device.findUser('carol');
    const conv = await device.createDirect(peer.user_id);
    const sends = [];
    for (let i = 1; i <= 130; i++) sends.push(device.send(conv.id, `Story line ${i} of 130`).done);
    await Promise.all(sends);
    device.stop();

    await carol.page.goto(server.url);
    await carol.page.getByRole('complementary', { name: 'Conversations' }).waitFor(WAIT);
    await carol.openChat('Alice Liddell');
    await carol.exactly('Story line 130 of 130').waitFor(WAIT);
    assert.ok(await carol.page.locator('li.msg').count() <= 60, 'only the newest page at first');
    // Keep scrolling to the top until the first line has been loaded.
    await carol.page.waitForFunction(() => {
      document.querySelector('.messages').scrollTop = 0;
      return document.querySelector('.beginning') !== null;
    }, null, WAIT);
    await carol.exactly('Story line 1 of 130').waitFor(WAIT);
    assert.equal(await carol.page.locator('li.msg').count(), 130);
  });

  test('phone width and dark mode', async () => {
    const { bob } = people;
    const phone = await browser.newContext({
      viewport: { width: 390, height: 780 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true,
      colorScheme: 'dark',
    });
    const page = await phone.newPage();
    page.on('pageerror', (e) => errors.push(`phone: ${e.message}`));
    await page.goto(server.url);
    await page.getByLabel('Username').fill(bob.username);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).last().click();
    const dismiss = page.getByRole('button', { name: 'Not now' });
    await dismiss.click();
    await page.locator('a.conv', { hasText: 'Alice Liddell' }).waitFor(WAIT);
    await page.screenshot({ path: path.join(shots, '12-phone-list-dark.png') });
    await page.locator('a.conv', { hasText: 'Alice Liddell' }).click();
    await page.locator('li.msg', { hasText: 'Back online' }).waitFor(WAIT);
    assert.equal(await page.locator('.sidebar').isVisible(), false, 'one pane at a time');
    await page.screenshot({ path: path.join(shots, '13-phone-chat-dark.png') });
    await page.getByRole('button', { name: 'Back to conversations' }).click();
    await page.locator('a.conv', { hasText: 'Alice Liddell' }).waitFor(WAIT);
    await phone.close();
  });

  test('keyboard: Enter sends, Escape cancels a reply, Arrow Up edits the last message', async () => {
    const { alice, bob } = people;
    await alice.openChat('Bob Marley');
    await bob.openChat('Alice Liddell');
    await alice.composer().focus();
    await alice.page.keyboard.type('Typed with the keyboard only');
    await alice.page.keyboard.press('Enter');
    await bob.messages('Typed with the keyboard only').waitFor(WAIT);
    // Only a message the server has acknowledged can be edited.
    await alice.messages('Typed with the keyboard only').locator('.tick[data-status]').waitFor(WAIT);
    await alice.page.keyboard.press('ArrowUp');
    await alice.page.locator('.composer-context', { hasText: 'Editing message' }).waitFor(WAIT);
    await alice.page.waitForFunction(() => document.activeElement?.value === 'Typed with the keyboard only');
    await alice.page.keyboard.press('End');
    await alice.page.keyboard.type(', really');
    await alice.page.keyboard.press('Enter');
    await bob.messages('Typed with the keyboard only, really').locator('.edited').waitFor(WAIT);

    await alice.messages('Back online').hover();
    await alice.messages('Back online').getByRole('button', { name: 'Reply' }).click();
    await alice.page.locator('.composer-context', { hasText: 'Replying to' }).waitFor(WAIT);
    await alice.page.keyboard.press('Escape');
    await alice.page.locator('.composer-context').waitFor({ state: 'detached', ...WAIT });
  });

  test('logging out elsewhere ends the session with a clear message', async () => {
    const { bob } = people;
    const token = await bob.page.evaluate(() =>
      JSON.parse(localStorage.getItem('parley.session')).accessToken);
    await fetch(`${server.url}/v1/auth/logout`, {
      method: 'POST', headers: { Authorization: `Bearer ${token}` },
    });
    await bob.page.getByRole('alert').filter({ hasText: 'sign in again' }).waitFor(WAIT);
    await bob.snap('14-session-ended');
  });

  test('no errors in any page', () => {
    assert.deepEqual(errors, []);
  });
});
