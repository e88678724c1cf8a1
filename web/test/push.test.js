// Web Push in the browser: the service worker at /sw.js shows a notification for a push shaped
// like parleyd's (PROTOCOL.md §12.4), delivered through the DevTools protocol, since headless
// Chromium has no push service of its own. Debian's Chromium via playwright-core, against a
// real parleyd serving the built web client.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createECDH, randomBytes } from 'node:crypto';
import { existsSync, rmSync } from 'node:fs';
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

describe('web push', () => {
  let server;
  let browser;
  let context;
  let page;
  let cdp;
  const errors = [];
  const subscriptionPosts = [];
  /** registrationId of the service worker, once DevTools reported it. */
  let registrationId;
  let registered;

  before(async () => {
    if (!existsSync(path.join(webRoot, 'index.html'))) {
      execFileSync('node', [path.join(repoRoot, 'web/build.mjs')], { stdio: 'inherit' });
    }
    // 127.0.0.1 as a push service host, for the test that stands in for one.
    server = await startParleyd({ webRoot, args: ['--notify-push-hosts', '127.0.0.1'] });
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
    context = await browser.newContext({ viewport: { width: 1180, height: 760 } });
    await context.grantPermissions(['notifications'], { origin: server.url });
    page = await context.newPage();
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => {
      // Chromium says so itself when subscribe() fails in an incognito context (which every
      // non-persistent Playwright context is): the app's fail-soft path, not an app error.
      if (m.type() === 'error' &&
        !/WebSocket|Failed to load resource|does not support the Push API/.test(m.text())) {
        errors.push(m.text());
      }
    });
    // The status is kept as a promise, pushed at once: the handler must not have to finish
    // before a test looks at what was posted.
    page.on('requestfinished', (request) => {
      if (request.method() === 'POST' && new URL(request.url()).pathname === '/v1/push/subscriptions') {
        subscriptionPosts.push(request.response().then((r) => r?.status()));
      }
    });

    cdp = await context.newCDPSession(page);
    registered = new Promise((resolve) => {
      cdp.on('ServiceWorker.workerRegistrationUpdated', ({ registrations }) => {
        const ours = registrations.find((r) => !r.isDeleted && r.scopeURL === `${server.url}/`);
        if (ours) {
          registrationId = ours.registrationId;
          resolve(ours.registrationId);
        }
      });
    });
    await cdp.send('ServiceWorker.enable');
  });

  after(async () => {
    await browser?.close();
    if (server) {
      await server.stop();
      rmSync(server.dataDir, { recursive: true, force: true });
    }
  });

  test('/sw.js is served from the root as revalidated JavaScript', async () => {
    const sw = await fetch(`${server.url}/sw.js`);
    assert.equal(sw.status, 200);
    assert.match(sw.headers.get('content-type'), /^text\/javascript/);
    assert.equal(sw.headers.get('cache-control'), 'no-cache');
    assert.match(await sw.text(), /addEventListener\('push'/);
  });

  test('signing in with notifications allowed registers the service worker', async () => {
    await page.goto(server.url);
    await page.getByRole('tab', { name: 'Create account' }).click();
    await page.getByLabel('Username').fill('pia');
    await page.getByLabel('Display name').fill('Pia');
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Create account' }).last().click();
    await page.getByRole('complementary', { name: 'Conversations' }).waitFor(WAIT);

    const scope = await page.evaluate(() =>
      navigator.serviceWorker.ready.then((r) => (r.active ? r.scope : null)));
    assert.equal(scope, `${server.url}/`);
    assert.ok(await registered);
    await recordNotifications();
  });

  test('subscribing posts the subscription, or fails soft without a push service', async () => {
    // The app's enablePush() has settled once the state it reports is no longer 'off'; the
    // notification settings dialog shows it.
    await page.getByRole('button', { name: 'Account menu' }).click();
    await page.getByRole('menuitem', { name: 'Notifications' }).click();
    const dialog = page.getByRole('dialog', { name: 'Notifications' });
    await dialog.getByText(/notified of new messages/).waitFor(WAIT);
    const text = await dialog.textContent();
    if (/even when Parley is closed/.test(text)) {
      assert.deepEqual(await Promise.all(subscriptionPosts), [201]);
    } else {
      // No push service here (headless Chromium): in-tab notifications, nothing alarming.
      assert.match(text, /while a Parley tab is open/);
      assert.equal(await page.getByRole('alert').count(), 0);
    }

    // Private previews round-trip through the server.
    const toggle = dialog.getByRole('checkbox', { name: /Private previews/ });
    await toggle.waitFor(WAIT);
    await page.waitForFunction(() =>
      !document.querySelector('dialog input[type=checkbox]')?.disabled);
    // The wait is registered before the click: a server that answers at once must not be missed.
    const saved = page.waitForResponse((r) =>
      new URL(r.url()).pathname === '/v1/notifications/settings' &&
      r.request().method() === 'PUT', WAIT);
    await toggle.check();
    const reply = await saved;
    assert.equal(reply.status(), 200, await reply.text());
    assert.equal((await reply.json()).private_previews, true);
    await dialog.getByRole('button', { name: 'Close' }).click();
    assert.deepEqual(errors, []);
  });

  /**
   * The service worker as it runs: Playwright's handle on it, started if the browser stopped
   * it for being idle.
   */
  async function runningWorker() {
    const [running] = context.serviceWorkers();
    if (running) return running;
    const started = context.waitForEvent('serviceworker', WAIT);
    await cdp.send('ServiceWorker.startWorker', { scopeURL: `${server.url}/` });
    return started;
  }

  /**
   * Makes the service worker keep a record of every notification it shows, then shows it as
   * before. What the tests read is what /sw.js asked the browser to show. (The browser's own
   * list, getNotifications(), is no witness: headless Chromium sometimes drops a notification
   * from it at once, after showNotification() has resolved.)
   */
  async function recordNotifications() {
    const worker = await runningWorker();
    await worker.evaluate(() => {
      if (self.__parleyShown) return;
      self.__parleyShown = [];
      const show = self.registration.showNotification.bind(self.registration);
      self.registration.showNotification = async (title, options) => {
        await show(title, options);
        self.__parleyShown.push({ title, body: options.body, tag: options.tag,
          renotify: options.renotify, data: options.data });
      };
    });
    return worker;
  }

  async function push(payload) {
    await recordNotifications();
    await cdp.send('ServiceWorker.deliverPushMessage', {
      origin: server.url,
      registrationId: String(registrationId),
      data: JSON.stringify(payload),
    });
  }

  /** Waits until the service worker has shown a notification tagged `tag` (and with `body`). */
  async function notification(tag, { body } = {}) {
    const deadline = Date.now() + WAIT.timeout;
    for (;;) {
      const worker = await recordNotifications();
      const shown = await worker.evaluate(() => self.__parleyShown);
      const n = shown.find((x) => x.tag === tag && (body === undefined || x.body === body));
      if (n) return n;
      if (Date.now() > deadline) {
        throw new Error(`no notification tagged ${tag} (${body}); shown: ${JSON.stringify(shown)}`);
      }
      // Polls a condition: the push is handled in the worker, which has no event to wait for.
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  test('a push shows the sender and the preview, one notification per conversation', async () => {
    await push({
      type: 'message', conv: 'c_direct', conv_type: 'direct', sender: 'u_a1',
      sender_username: 'alice', seq: 42, preview: 'see you at 8', unread: 1,
      ts: 1700000000000, mention: false,
    });
    const n = await notification('c_direct');
    assert.equal(n.title, 'alice');
    assert.equal(n.body, 'see you at 8');
    assert.deepEqual(n.data, { conv: 'c_direct', seq: 42 });

    await push({
      type: 'message', conv: 'c_direct', conv_type: 'direct', sender: 'u_a1',
      sender_username: 'alice', seq: 44, preview: 'or 9?', unread: 3,
      ts: 1700000001000, mention: false,
    });
    const later = await notification('c_direct', { body: 'or 9? (3 unread)' });
    // The same tag, renotifying: the browser replaces the first with the second, so the user
    // sees one notification for the conversation, and is alerted again.
    assert.equal(later.tag, n.tag);
    assert.equal(later.renotify, true);
  });

  test('a group push names the group; a private one says "New message"', async () => {
    await push({
      type: 'message', conv: 'c_group', conv_type: 'group', title: 'Trip', sender: 'u_b2',
      sender_username: 'bob', seq: 7, preview: null, unread: 1, ts: 1700000002000,
      mention: false,
    });
    const n = await notification('c_group');
    assert.equal(n.title, 'bob in Trip');
    assert.equal(n.body, 'New message');
    assert.deepEqual(errors, []);
  });

  test('with a push service, the subscription is posted on sign-in and deleted on logout', async () => {
    // Stands in for a browser with a push service: subscribe() answers with a subscription
    // whose endpoint parleyd accepts (http on loopback) and real keys.
    const ecdh = createECDH('prime256v1');
    ecdh.generateKeys();
    const fake = {
      endpoint: 'http://127.0.0.1:9/fake-push/1',
      p256dh: ecdh.getPublicKey().toString('base64url'),
      auth: randomBytes(16).toString('base64url'),
    };
    const other = await browser.newContext();
    await other.grantPermissions(['notifications'], { origin: server.url });
    await other.addInitScript((f) => {
      let current = null;
      const make = () => ({
        endpoint: f.endpoint,
        options: { applicationServerKey: null },
        toJSON: () => ({ endpoint: f.endpoint, expirationTime: null,
          keys: { p256dh: f.p256dh, auth: f.auth } }),
        unsubscribe: async () => {
          current = null;
          return true;
        },
      });
      PushManager.prototype.subscribe = async function subscribe() {
        current ??= make();
        return current;
      };
      PushManager.prototype.getSubscription = async function getSubscription() {
        return current;
      };
    }, fake);
    const p = await other.newPage();
    const posted = p.waitForResponse((r) => new URL(r.url()).pathname === '/v1/push/subscriptions' &&
      r.request().method() === 'POST', WAIT);
    await p.goto(server.url);
    await p.getByRole('tab', { name: 'Create account' }).click();
    await p.getByLabel('Username').fill('quinn');
    await p.getByLabel('Display name').fill('Quinn');
    await p.getByLabel('Password').fill(PASSWORD);
    await p.getByRole('button', { name: 'Create account' }).last().click();
    const response = await posted;
    assert.equal(response.status(), 201, await response.text());
    assert.deepEqual(JSON.parse(response.request().postData()).keys,
      { p256dh: fake.p256dh, auth: fake.auth });

    await p.getByRole('button', { name: 'Account menu' }).click();
    await p.getByRole('menuitem', { name: 'Notifications' }).click();
    await p.getByRole('dialog', { name: 'Notifications' })
      .getByText(/even when Parley is closed/).waitFor(WAIT);
    await p.getByRole('dialog', { name: 'Notifications' }).getByRole('button', { name: 'Close' }).click();

    const deleted = p.waitForResponse((r) => new URL(r.url()).pathname === '/v1/push/subscriptions' &&
      r.request().method() === 'DELETE', WAIT);
    await p.getByRole('button', { name: 'Account menu' }).click();
    await p.getByRole('menuitem', { name: 'Log out' }).click();
    const gone = await deleted;
    assert.equal(gone.status(), 204);
    assert.equal(new URL(gone.url()).searchParams.get('endpoint'), fake.endpoint);
    await p.getByRole('tab', { name: 'Create account' }).waitFor(WAIT);
    await other.close();
  });
});
