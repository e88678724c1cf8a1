import { useEffect, useRef, useState } from 'preact/hooks';

import { listTime } from '../format.js';
import { Icon } from '../icons.jsx';
import { disablePush, dismissPrompt, enableNotifications, shouldPrompt } from '../notifications.js';
import { client, conversationName, nameOf, navigate, peerOf, useClient } from '../store.js';
import { Avatar } from './avatar.jsx';
import { NewChatDialog, NotificationSettingsDialog } from './dialogs.jsx';
import { SearchResults } from './search.jsx';

export function Sidebar({ activeId }) {
  useClient();
  const [query, setQuery] = useState('');
  const [newChat, setNewChat] = useState(false);
  const [prompt, setPrompt] = useState(shouldPrompt());
  const [menu, setMenu] = useState(false);
  const [notifySettings, setNotifySettings] = useState(false);
  const me = client.me;
  const meUser = me ? client.user(me.userId) : null;
  const myName = meUser?.display_name || meUser?.username || '';

  useEffect(() => {
    const open = () => setNewChat(true);
    window.addEventListener('parley:new-chat', open);
    return () => window.removeEventListener('parley:new-chat', open);
  }, []);

  const conversations = client.listConversations();
  return (
    <aside class="sidebar" aria-label="Conversations">
      <header class="sidebar-head">
        <div class="me">
          {me && <Avatar id={me.userId} name={myName || '?'} size={36} />}
          <div class="me-text">
            <strong>{myName || ' '}</strong>
            <span class="muted small">@{meUser?.username ?? ''}</span>
          </div>
        </div>
        <div class="head-actions">
          <button type="button" class="icon-btn" aria-label="New chat" title="New chat"
            onClick={() => setNewChat(true)}><Icon name="plus" /></button>
          <div class="menu-wrap">
            <button type="button" class="icon-btn" aria-label="Account menu" aria-haspopup="menu"
              aria-expanded={menu} title="Account" onClick={() => setMenu(!menu)}>
              <Icon name="more" />
            </button>
            {menu && (
              <div class="menu" role="menu" onKeyDown={(e) => e.key === 'Escape' && setMenu(false)}>
                <button type="button" role="menuitem" autoFocus onClick={() => {
                  setMenu(false);
                  setNotifySettings(true);
                }}><Icon name="bell" size={18} /> Notifications</button>
                <button type="button" role="menuitem" onClick={async () => {
                  setMenu(false);
                  // While still signed in: the server must forget this browser's subscription.
                  await disablePush();
                  client.logout();
                  navigate('/', { replace: true });
                }}><Icon name="logout" size={18} /> Log out</button>
              </div>
            )}
          </div>
        </div>
      </header>

      <div class="search-box">
        <Icon name="search" size={18} />
        <input type="search" placeholder="Search messages" aria-label="Search messages"
          value={query} onInput={(e) => setQuery(e.currentTarget.value)}
          onKeyDown={(e) => e.key === 'Escape' && setQuery('')} />
      </div>

      {prompt && (
        <div class="notify-card" role="region" aria-label="Notifications">
          <Icon name="bell" size={20} />
          <div>
            <strong>Know when friends write</strong>
            <p>Parley can show a notification when a message arrives while you are away, even
              with this tab closed where your browser allows it. Your browser will ask first, and
              you can change it any time.</p>
            <div class="row">
              <button type="button" class="btn small primary" onClick={async () => {
                await enableNotifications();
                setPrompt(false);
              }}>Turn on</button>
              <button type="button" class="btn small ghost" onClick={() => {
                dismissPrompt();
                setPrompt(false);
              }}>Not now</button>
            </div>
          </div>
        </div>
      )}

      {query.trim() ? (
        <SearchResults query={query.trim()} onPick={() => setQuery('')} />
      ) : (
        <ConversationList conversations={conversations} activeId={activeId} />
      )}

      {newChat && <NewChatDialog onClose={() => setNewChat(false)} />}
      {notifySettings && <NotificationSettingsDialog onClose={() => setNotifySettings(false)} />}
    </aside>
  );
}

function ConversationList({ conversations, activeId }) {
  const listRef = useRef(null);
  if (!conversations.length) {
    return (
      <div class="list-empty">
        <p>No conversations yet.</p>
        <button type="button" class="btn primary" onClick={() =>
          window.dispatchEvent(new Event('parley:new-chat'))}><Icon name="plus" size={18} />
          Start a chat</button>
      </div>
    );
  }
  // Arrow keys move between conversations; Tab leaves the list.
  const onKeyDown = (e) => {
    if (e.key !== 'ArrowDown' && e.key !== 'ArrowUp') return;
    const links = [...listRef.current.querySelectorAll('a.conv')];
    const i = links.indexOf(document.activeElement);
    const next = links[Math.min(links.length - 1, Math.max(0, i + (e.key === 'ArrowDown' ? 1 : -1)))];
    next?.focus();
    e.preventDefault();
  };
  return (
    <nav class="conv-list" aria-label="Conversation list">
      <ul ref={listRef} onKeyDown={onKeyDown}>
        {conversations.map((c) => <ConversationItem key={c.id} conv={c} active={c.id === activeId} />)}
      </ul>
    </nav>
  );
}

function ConversationItem({ conv, active }) {
  const name = conversationName(conv);
  const peer = peerOf(conv);
  const last = conv.last_message;
  const typing = client.typingUsers(conv.id);
  let preview;
  if (typing.length) {
    preview = <em class="typing-text">{conv.type === 'group' ? `${nameOf(typing[0])} is typing…` : 'typing…'}</em>;
  } else if (last) {
    const who = last.sender === client.me?.userId ? 'You: '
      : conv.type === 'group' ? `${nameOf(last.sender)}: ` : '';
    preview = last.deleted || last.body === null
      ? <em>{who}Message deleted</em>
      : <>{who}{last.body}</>;
  } else {
    preview = <em>{conv.type === 'group' ? `${conv.members?.length ?? 0} members` : 'Say hello'}</em>;
  }
  const unread = active ? 0 : conv.unread;
  const href = `/c/${encodeURIComponent(conv.id)}`;
  const label = `${name}${unread ? `, ${unread} unread` : ''}`;
  return (
    <li>
      <a href={href} class={`conv ${active ? 'active' : ''} ${unread ? 'unread' : ''}`}
        aria-current={active ? 'page' : undefined} aria-label={label}
        onClick={(e) => {
          e.preventDefault();
          navigate(href);
        }}>
        <Avatar id={peer ?? conv.id} name={name} presence={!!peer} group={conv.type === 'group'} />
        <div class="conv-text">
          <div class="conv-top">
            <span class="conv-name">{name}</span>
            <time class="conv-time">{listTime(last?.ts ?? conv.created_ms)}</time>
          </div>
          <div class="conv-bottom">
            <span class="conv-preview">{preview}</span>
            {unread > 0 && <span class="badge" aria-hidden="true">{unread > 99 ? '99+' : unread}</span>}
          </div>
        </div>
      </a>
    </li>
  );
}
