// The one ParleyClient of the page, and hooks that re-render views when it changes.
import { useEffect, useReducer, useState } from 'preact/hooks';

import { ParleyClient } from '@parley/client';

/** Groups up to this size get presence pushed by the server (its presence_max_group_size);
 * the client queries their members on connect, and views subscribe to larger ones'. */
export const PRESENCE_PUSH_GROUP_SIZE = 100;

// The client queries presence after every (re)connect and emits the answers as 'presence'
// changes, so views read client.presence alone, from the start.
export const client = new ParleyClient({ storage: window.localStorage,
  presenceGroupLimit: PRESENCE_PUSH_GROUP_SIZE });

// The browser knows about the network before the socket does.
window.addEventListener('online', () => client.reconnectNow());
window.addEventListener('offline', () => client.networkLost());

/**
 * Re-renders the calling component after client changes (batched to one per frame).
 * @param {(change: {what: string, conv?: string}) => boolean} [filter]
 */
export function useClient(filter) {
  const [, bump] = useReducer((n) => n + 1, 0);
  useEffect(() => {
    let frame = 0;
    const off = client.on('change', (change) => {
      if (filter && !filter(change)) return;
      if (frame) return;
      frame = requestAnimationFrame(() => {
        frame = 0;
        bump();
      });
    });
    return () => {
      off();
      cancelAnimationFrame(frame);
    };
  }, []);
  return client;
}

/** The current path, kept in step with pushState and the back button. */
export function usePath() {
  const [path, setPath] = useState(location.pathname);
  useEffect(() => {
    const update = () => setPath(location.pathname);
    window.addEventListener('popstate', update);
    window.addEventListener('parley:navigate', update);
    return () => {
      window.removeEventListener('popstate', update);
      window.removeEventListener('parley:navigate', update);
    };
  }, []);
  return path;
}

/** @param {string} path */
export function navigate(path, { replace = false } = {}) {
  if (location.pathname === path) return;
  if (replace) history.replaceState(null, '', path);
  else history.pushState(null, '', path);
  window.dispatchEvent(new Event('parley:navigate'));
}

/** The conversation's name as the user sees it: the title, or the other person's name. */
export function conversationName(conv) {
  if (!conv) return '';
  if (conv.type === 'group') return conv.title || 'Untitled group';
  const other = (conv.members ?? []).find((m) => m !== client.me?.userId);
  const user = other ? client.user(other) : null;
  return user?.display_name || user?.username || 'Direct chat';
}

/** The other member of a direct conversation. */
export function peerOf(conv) {
  if (!conv || conv.type !== 'direct') return null;
  return (conv.members ?? []).find((m) => m !== client.me?.userId) ?? null;
}

export function nameOf(userId) {
  if (userId === client.me?.userId) return 'You';
  const u = client.user(userId);
  return u?.display_name || u?.username || 'Someone';
}
