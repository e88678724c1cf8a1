// Parley's service worker: shows Web Push notifications while no tab is open (PROTOCOL.md
// §12.4) and opens the conversation when one is clicked. It caches nothing; parleyd serves it
// at /sw.js with `Cache-Control: no-cache`, so a new build replaces it on the next visit.
/* eslint-env serviceworker */

self.addEventListener('install', () => self.skipWaiting());
self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));

/** The title and options of the notification for one push payload. */
function describe(data) {
  const who = data.sender_username || 'Someone';
  const title = data.conv_type === 'group' && data.title ? `${who} in ${data.title}` : who;
  const preview = typeof data.preview === 'string' && data.preview ? data.preview : null;
  const unread = Number.isInteger(data.unread) && data.unread > 1 ? data.unread : 0;
  let body = preview ?? 'New message';
  if (unread) body += ` (${unread} unread)`;
  return {
    title,
    options: {
      body,
      // One notification per conversation: a later push replaces the earlier one.
      tag: data.conv || 'parley',
      renotify: true,
      icon: '/icon.svg',
      badge: '/icon.svg',
      timestamp: Number.isFinite(data.ts) ? data.ts : Date.now(),
      data: { conv: data.conv ?? null, seq: data.seq ?? null },
    },
  };
}

self.addEventListener('push', (event) => {
  let data = {};
  try {
    data = event.data ? event.data.json() : {};
  } catch {
    // Not JSON: still a message arrived, and a push must show something (userVisibleOnly).
    data = {};
  }
  if (data === null || typeof data !== 'object') data = {};
  const { title, options } = describe(data);
  event.waitUntil(self.registration.showNotification(title, options));
});

self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  const conv = event.notification.data?.conv;
  const path = conv ? `/c/${encodeURIComponent(conv)}` : '/';
  event.waitUntil((async () => {
    const windows = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
    const open = windows.find((w) => new URL(w.url).origin === self.location.origin);
    if (open) {
      // The page routes on its own; it listens for this message (notifications.js).
      open.postMessage({ type: 'parley:open', path });
      return open.focus();
    }
    return self.clients.openWindow(path);
  })());
});
