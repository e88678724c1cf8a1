import { useCallback, useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';

import { dayLabel, lastSeen, sameDay } from '../format.js';
import { Icon } from '../icons.jsx';
import { client, conversationName, nameOf, navigate, peerOf, useClient } from '../store.js';
import { Avatar } from './avatar.jsx';
import { Composer } from './composer.jsx';
import { ConfirmDialog, GroupInfoDialog } from './dialogs.jsx';
import { Message, SystemLine } from './message.jsx';

/** A message the search asked to show, picked up by the chat view when it mounts. */
let pendingFocus = null;
export function focusMessage(conv, seq) {
  pendingFocus = { conv, seq };
  window.dispatchEvent(new Event('parley:focus-message'));
}

const GROUP_GAP_MS = 5 * 60_000;

export function ChatView({ convId }) {
  useClient((c) => !c.conv || c.conv === convId || c.what === 'users' || c.what === 'presence' ||
    c.what === 'state' || c.what === 'conversations');
  const conv = client.conversations.get(convId);
  const [replyTo, setReplyTo] = useState(null);
  const [editing, setEditing] = useState(null);
  const [info, setInfo] = useState(false);
  const [confirmDelete, setConfirmDelete] = useState(null);
  const [error, setError] = useState('');

  useEffect(() => {
    client.load(convId).catch(() => {});
  }, [convId, client.state === 'online']);

  if (!conv) {
    return (
      <div class="empty-state">
        <h2>Conversation not found</h2>
        <p>It may have been removed, or you are no longer a member.</p>
        <button type="button" class="btn" onClick={() => navigate('/')}>Back to chats</button>
      </div>
    );
  }

  const flash = (message) => {
    setError(message);
    setTimeout(() => setError(''), 4000);
  };
  const act = (promise) => promise.catch((e) => flash(e.message || 'That did not work.'));

  return (
    <section class="chat" aria-label={`Chat with ${conversationName(conv)}`}>
      <ChatHeader conv={conv} onInfo={() => setInfo(true)} />
      <MessageList conv={conv}
        onReply={(m) => {
          setEditing(null);
          setReplyTo(m);
        }}
        onEdit={(m) => {
          setReplyTo(null);
          setEditing(m);
        }}
        onDelete={(m) => setConfirmDelete(m)}
        onReact={(m, emoji) => act(client.react(convId, m.seq, emoji))} />
      {error && <div class="toast" role="alert">{error}</div>}
      <Composer conv={conv} replyTo={replyTo} editing={editing}
        onCancel={() => {
          setReplyTo(null);
          setEditing(null);
        }}
        onEditLast={() => {
          const mine = client.timeline(convId).filter((m) => m.kind === 'message' &&
            m.sender === client.me?.userId && m.seq && !m.deleted);
          if (mine.length) setEditing(mine[mine.length - 1]);
        }}
        onSubmitEdit={(m, body) => {
          setEditing(null);
          if (body !== m.body) act(client.edit(convId, m.seq, body));
        }}
        onSent={() => setReplyTo(null)} />
      {info && <GroupInfoDialog conv={conv} onClose={() => setInfo(false)} />}
      {confirmDelete && (
        <ConfirmDialog title="Delete message?" confirmLabel="Delete" danger
          text="It will be removed for everyone in this conversation."
          onCancel={() => setConfirmDelete(null)}
          onConfirm={() => {
            act(client.delete(convId, confirmDelete.seq));
            setConfirmDelete(null);
          }} />
      )}
    </section>
  );
}

function ChatHeader({ conv, onInfo }) {
  const name = conversationName(conv);
  const peer = peerOf(conv);
  // "last seen 3 min ago" ages without events: re-render now and then.
  const [, tick] = useState(0);
  useEffect(() => {
    if (!peer) return undefined;
    const timer = setInterval(() => tick((n) => n + 1), 30_000);
    return () => clearInterval(timer);
  }, [peer]);
  const typing = client.typingUsers(conv.id);
  // The username beside the display name: display names are free text, and anyone may call
  // themselves "Alice" (issue 17); the username is unique.
  const u = peer ? client.user(peer) : null;
  let subtitle;
  if (typing.length) {
    subtitle = <span class="typing-text">{conv.type === 'group'
      ? `${typing.map(nameOf).join(', ')} ${typing.length > 1 ? 'are' : 'is'} typing…` : 'typing…'}</span>;
  } else if (peer) {
    const p = client.presence.get(peer);
    const status = p?.text ? ` · ${p.text}` : '';
    subtitle = p ? (p.status === 'online'
      ? (p.away ? `away${status}` : <span class="online-text">online{status}</span>)
      : lastSeen(p.last_seen))
      : u ? `@${u.username}` : '';
  } else {
    subtitle = `${conv.members?.length ?? 0} members`;
  }
  return (
    <header class="chat-head">
      <button type="button" class="icon-btn back" aria-label="Back to conversations"
        onClick={() => navigate('/')}><Icon name="back" /></button>
      <Avatar id={peer ?? conv.id} name={name} size={38} presence={!!peer} group={conv.type === 'group'} />
      <div class="chat-title">
        <h2>{name}{u?.username && <span class="handle"> @{u.username}</span>}</h2>
        <p class="muted small chat-subtitle" aria-live="polite">{subtitle}</p>
      </div>
      <button type="button" class="icon-btn" onClick={onInfo}
        aria-label={conv.type === 'group' ? 'Group details' : 'Conversation details'}
        title="Details"><Icon name={conv.type === 'group' ? 'users' : 'info'} /></button>
    </header>
  );
}

function MessageList({ conv, onReply, onEdit, onDelete, onReact }) {
  const scroller = useRef(null);
  const topSentinel = useRef(null);
  const atBottom = useRef(true);
  const lastLayout = useRef({ first: null, height: 0, count: 0 });
  const [loadingOlder, setLoadingOlder] = useState(false);
  const [highlight, setHighlight] = useState(0);
  const items = client.timeline(conv.id);
  const log = conv.log;
  const me = client.me?.userId;

  const loadOlder = useCallback(async () => {
    if (loadingOlder || !log.loaded || !log.hasMoreBefore) return;
    setLoadingOlder(true);
    try {
      await client.loadOlder(conv.id);
    } catch {
      // Offline: the sentinel triggers again once back.
    } finally {
      setLoadingOlder(false);
    }
  }, [conv.id, loadingOlder, log.loaded, log.hasMoreBefore]);

  // Infinite scroll upward: load the page before when the top comes into view.
  useEffect(() => {
    const el = topSentinel.current;
    if (!el) return undefined;
    const observer = new IntersectionObserver((entries) => {
      if (entries.some((e) => e.isIntersecting)) loadOlder();
    }, { root: scroller.current, rootMargin: '400px 0px 0px 0px' });
    observer.observe(el);
    return () => observer.disconnect();
  }, [loadOlder]);

  // Keep the view steady: stick to the bottom when there, keep the place when older
  // messages are put above.
  useLayoutEffect(() => {
    const el = scroller.current;
    if (!el) return;
    const first = items.find((i) => i.seq)?.seq ?? null;
    const prev = lastLayout.current;
    if (prev.first !== null && first !== null && first < prev.first && !atBottom.current) {
      el.scrollTop += el.scrollHeight - prev.height;
    } else if (atBottom.current) {
      el.scrollTop = el.scrollHeight;
    }
    lastLayout.current = { first, height: el.scrollHeight, count: items.length };
  });

  const markRead = useCallback(() => {
    if (document.visibilityState !== 'visible' || !atBottom.current) return;
    if (conv.unread > 0 || (conv.read_seq ?? 0) < conv.last_seq) client.markRead(conv.id);
  }, [conv]);

  useEffect(() => {
    markRead();
  });
  useEffect(() => {
    document.addEventListener('visibilitychange', markRead);
    window.addEventListener('focus', markRead);
    return () => {
      document.removeEventListener('visibilitychange', markRead);
      window.removeEventListener('focus', markRead);
    };
  }, [markRead]);

  // Search results open the chat at a message: load back until it is held, then show it.
  useEffect(() => {
    const go = async () => {
      if (!pendingFocus || pendingFocus.conv !== conv.id || !log.loaded) return;
      const { seq } = pendingFocus;
      pendingFocus = null;
      for (let i = 0; i < 40 && log.oldestSeq > seq && log.hasMoreBefore; i++) {
        await client.loadOlder(conv.id);
      }
      requestAnimationFrame(() => {
        const node = document.getElementById(`msg-${seq}`);
        if (!node) return;
        atBottom.current = false;
        node.scrollIntoView({ block: 'center' });
        setHighlight(seq);
        setTimeout(() => setHighlight(0), 2200);
      });
    };
    go();
    window.addEventListener('parley:focus-message', go);
    return () => window.removeEventListener('parley:focus-message', go);
  }, [conv.id, log.loaded]);

  const onScroll = () => {
    const el = scroller.current;
    if (!el) return;
    atBottom.current = el.scrollHeight - el.scrollTop - el.clientHeight < 60;
    if (atBottom.current) markRead();
  };

  const rows = [];
  let prev = null;
  let lastTs = null;
  for (const item of items) {
    if (lastTs === null || !sameDay(lastTs, item.ts)) {
      rows.push(<li class="day" key={`day-${item.ts}-${item.seq}`}><span>{dayLabel(item.ts)}</span></li>);
      prev = null;
    }
    lastTs = item.ts;
    if (item.kind !== 'message') {
      rows.push(<SystemLine key={`s${item.seq}`} entry={item} />);
      prev = null;
      continue;
    }
    const startsGroup = !prev || prev.sender !== item.sender || item.ts - prev.ts > GROUP_GAP_MS;
    rows.push(
      <Message key={item.seq || item.client_msg_id} item={item} conv={conv} mine={item.sender === me}
        first={startsGroup} highlighted={item.seq > 0 && item.seq === highlight}
        onReply={onReply} onEdit={onEdit} onDelete={onDelete} onReact={onReact} />,
    );
    prev = item;
  }
  const typing = client.typingUsers(conv.id);

  return (
    <div class="messages" ref={scroller} onScroll={onScroll}>
      <div ref={topSentinel} class="top-sentinel" />
      {log.loaded && !log.hasMoreBefore && (
        <div class="beginning">
          <Avatar id={peerOf(conv) ?? conv.id} name={conversationName(conv)} size={56}
            group={conv.type === 'group'} />
          <p><strong>{conversationName(conv)}</strong></p>
          <p class="muted small">This is the beginning of your conversation.</p>
        </div>
      )}
      {(loadingOlder || !log.loaded) && <div class="loading" role="status">Loading messages…</div>}
      <ol class="message-list" role="log" aria-label="Messages" aria-live="polite">
        {rows}
      </ol>
      <div class={`typing-indicator ${typing.length ? 'visible' : ''}`} aria-live="polite">
        {typing.length > 0 && (
          <>
            <span class="dots" aria-hidden="true"><i /><i /><i /></span>
            <span>{typing.map(nameOf).join(', ')} {typing.length > 1 ? 'are' : 'is'} typing</span>
          </>
        )}
      </div>
    </div>
  );
}
