// Browser notifications for messages that arrive while Parley is not in front.
//
// Two ways, both behind the one prompt below: Web Push (PROTOCOL.md §12.4), which reaches the
// user when no tab is open, through the service worker /sw.js; and, where push is not to be
// had (no PushManager, no push service, the server refuses the endpoint), notifications
// shown by this page while it is open in the background. The server pushes only to users with
// no connected device, so the two never both fire for one message.
import { client, conversationName, nameOf, navigate } from './store.js';

const DISMISSED = 'parley.notify.dismissed';

export function notificationsSupported() {
  return typeof Notification !== 'undefined';
}

/** Whether to show the prompt that explains notifications before the browser asks. */
export function shouldPrompt() {
  return notificationsSupported() && Notification.permission === 'default' &&
    localStorage.getItem(DISMISSED) !== '1';
}

export function dismissPrompt() {
  localStorage.setItem(DISMISSED, '1');
}

export async function enableNotifications() {
  if (!notificationsSupported()) return 'unsupported';
  const result = await Notification.requestPermission();
  if (result !== 'default') dismissPrompt();
  if (result === 'granted') await enablePush();
  return result;
}

/** 'push' once subscribed, 'tab' when only this page can notify, 'off' before enabling. */
let pushState = 'off';
let pushJob = null;

export function pushStatus() {
  return pushState;
}

function pushSupported() {
  return notificationsSupported() && 'serviceWorker' in navigator &&
    typeof PushManager !== 'undefined' && window.isSecureContext;
}

/** The service worker's registration, once it is active; null without one. */
async function serviceWorker() {
  if (!('serviceWorker' in navigator) || !window.isSecureContext) return null;
  await navigator.serviceWorker.register('/sw.js', { scope: '/' });
  return navigator.serviceWorker.ready;
}

function keyBytes(base64url) {
  const b64 = base64url.replace(/-/g, '+').replace(/_/g, '/');
  const raw = atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4));
  return Uint8Array.from(raw, (c) => c.charCodeAt(0));
}

/**
 * Subscribes this browser to Web Push and registers the subscription with the server.
 * Never throws: whatever fails leaves the in-tab notifications, which need nothing more.
 * @returns {Promise<'push' | 'tab'>}
 */
export function enablePush() {
  pushJob ??= (async () => {
    try {
      if (!pushSupported() || Notification.permission !== 'granted' || !client.me) return 'tab';
      const registration = await serviceWorker();
      const key = await client.pushPublicKey();
      let subscription = await registration.pushManager.getSubscription();
      if (subscription && !sameKey(subscription.options?.applicationServerKey, keyBytes(key))) {
        // Made for another server key (the server's data dir was replaced): start afresh.
        await subscription.unsubscribe();
        subscription = null;
      }
      // A browser that cannot reach its push service may never settle this call.
      subscription ??= await withTimeout(registration.pushManager.subscribe({
        userVisibleOnly: true,
        applicationServerKey: keyBytes(key),
      }), SUBSCRIBE_TIMEOUT_MS, 'the push service did not answer');
      await client.addPushSubscription(subscription.toJSON());
      return 'push';
    } catch (error) {
      console.info('Parley: background notifications unavailable, using in-tab ones:',
        error?.message ?? error);
      return 'tab';
    }
  })().then((state) => {
    pushState = state;
    pushJob = null;
    return state;
  });
  return pushJob;
}

const SUBSCRIBE_TIMEOUT_MS = 20_000;

function withTimeout(promise, ms, message) {
  let timer;
  const expired = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  return Promise.race([promise, expired]).finally(() => clearTimeout(timer));
}

function sameKey(buffer, bytes) {
  if (!buffer) return true;
  const a = new Uint8Array(buffer);
  return a.length === bytes.length && a.every((b, i) => b === bytes[i]);
}

/**
 * Before logging out: the server forgets this browser's subscription and the browser drops
 * it, so the next account signed in here gets its own. Best effort, never throws.
 */
export async function disablePush() {
  pushState = 'off';
  try {
    if (!pushSupported()) return;
    const registration = await navigator.serviceWorker.getRegistration('/');
    const subscription = await registration?.pushManager.getSubscription();
    if (!subscription) return;
    try {
      await client.removePushSubscription(subscription.endpoint);
    } finally {
      await subscription.unsubscribe();
    }
  } catch (error) {
    console.info('Parley: could not remove the push subscription:', error?.message ?? error);
  }
}

/** When the user granted notifications before: (re)register once signed in, and route clicks. */
export function startNotifications() {
  if ('serviceWorker' in navigator) {
    navigator.serviceWorker.addEventListener('message', (event) => {
      if (event.data?.type === 'parley:open' && typeof event.data.path === 'string') {
        navigate(event.data.path);
      }
    });
  }
  if (notificationsSupported() && Notification.permission === 'granted' && client.me) {
    enablePush();
  }
}

/** @param {{conv: string, entry: any}} event */
export function notifyMessage({ conv, entry }) {
  if (!notificationsSupported() || Notification.permission !== 'granted') return;
  if (document.visibilityState === 'visible' && document.hasFocus()) return;
  const c = client.conversations.get(conv);
  const title = c?.type === 'group' ? `${nameOf(entry.sender)} in ${conversationName(c)}`
    : nameOf(entry.sender);
  try {
    const n = new Notification(title, {
      body: entry.body ?? '',
      tag: conv,
      icon: '/icon.svg',
    });
    n.onclick = () => {
      window.focus();
      navigate(`/c/${encodeURIComponent(conv)}`);
      n.close();
    };
  } catch {
    // Some browsers allow notifications only from a service worker.
  }
}
