// Presence in the browser: Debian's Chromium (playwright-core) against a real parleyd with a
// short grace period. Alice and Bob share a direct chat; Alice sees Bob's dot while his page is
// open (from the query after connecting, not only from events) and "last seen" once he closes it.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { chromium } from 'playwright-core';

import { repoRoot, startParleyd } from '../../clients/js/test/support/parleyd.js';

const webRoot = path.join(repoRoot, 'web/dist');
const PASSWORD = 'correct horse battery';
const WAIT = { timeout: 20_000 };

const CHROMIUM_ARGS = [
  '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--disable-quic',
];

describe('presence in the web client', () => {
  let server;
  let browser;
  const errors = [];

  async function person(username, displayName) {
    const context = await browser.newContext({ viewport: { width: 1180, height: 760 } });
    const page = await context.newPage();
    page.on('pageerror', (e) => errors.push(`${username}: ${e.message}`));
    await page.goto(server.url);
    await page.getByRole('tab', { name: 'Create account' }).click();
    await page.getByLabel('Username').fill(username);
    await page.getByLabel('Display name').fill(displayName);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Create account' }).last().click();
    await page.getByRole('complementary', { name: 'Conversations' }).waitFor(WAIT);
    await page.getByRole('button', { name: 'Not now' }).click();
    return { username, displayName, context, page };
  }

  before(async () => {
    if (!existsSync(path.join(webRoot, 'index.html'))) {
      execFileSync('node', [path.join(repoRoot, 'web/build.mjs')], { stdio: 'inherit' });
    }
    server = await startParleyd({ webRoot, args: ['--presence-grace-ms', '300'] });
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
  });

  after(async () => {
    await browser?.close();
    await server?.dispose();
  });

  test('alice sees bob online while his page is open, then offline with last seen', async () => {
    const bob = await person('pbob', 'Bob Presence');
    const alice = await person('palice', 'Alice Presence');

    await alice.page.getByRole('button', { name: 'New chat' }).first().click();
    await alice.page.getByLabel('Their username').fill(bob.username);
    await alice.page.getByRole('button', { name: 'Start chat' }).click();
    const head = alice.page.locator('.chat-head');
    await head.locator('h2', { hasText: bob.displayName }).waitFor(WAIT);
    const sidebarBob = alice.page.locator('a.conv', { hasText: bob.displayName });

    // Bob has been online since before the chat existed: no event is due, the query tells.
    await head.locator('.avatar[data-presence="online"] .presence-dot.online').waitFor(WAIT);
    await sidebarBob.locator('.avatar[data-presence="online"]').waitFor(WAIT);
    await head.locator('.chat-subtitle', { hasText: /^online$/ }).waitFor(WAIT);

    // A fresh page load: the dot is there from the start, from the query after connecting.
    await alice.page.reload();
    await head.locator('h2', { hasText: bob.displayName }).waitFor(WAIT);
    await head.locator('.avatar[data-presence="online"]').waitFor(WAIT);
    await sidebarBob.locator('.avatar[data-presence="online"]').waitFor(WAIT);

    // Bob closes his page: once the grace period is over Alice sees him go.
    await bob.context.close();
    await head.locator('.avatar[data-presence="offline"]').waitFor(WAIT);
    await sidebarBob.locator('.avatar[data-presence="offline"]').waitFor(WAIT);
    await alice.page.waitForFunction(() =>
      /^last seen /.test(document.querySelector('.chat-head .chat-subtitle')?.textContent ?? ''),
    null, WAIT);
    // The online dot is gone (offline ones are not drawn).
    await head.locator('.presence-dot.online').waitFor({ state: 'detached', ...WAIT });

    await alice.context.close();
    if (errors.length) throw new Error(`page errors:\n${errors.join('\n')}`);
  });
});
