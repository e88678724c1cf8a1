// Browser notifications for messages that arrive while the page is in the background.
//
// Today they come from this page (the Notification API), so the tab must be open. Web Push,
// for when the tab is closed, needs the server's push subscription endpoint (issue #4); when
// it exists, enablePush() registers a service worker and posts its subscription there, and
// the prompt below stays the same.
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
  return result;
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
