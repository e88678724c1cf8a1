import { useEffect, useState } from 'preact/hooks';

import { AuthScreen } from './components/auth.jsx';
import { Banner } from './components/banner.jsx';
import { ChatView } from './components/chat.jsx';
import { Sidebar } from './components/sidebar.jsx';
import { Icon } from './icons.jsx';
import { enablePush, notifyMessage, startNotifications } from './notifications.js';
import { client, navigate, useClient, usePath } from './store.js';

export function App() {
  useClient((c) => c.what === 'state' || c.what === 'conversations' || c.what === 'entries' ||
    c.what === 'receipts');
  const path = usePath();
  const [ended, setEnded] = useState(null);

  useEffect(() => {
    const offEnded = client.on('session_ended', (reason) => {
      setEnded(reason.message);
      navigate('/', { replace: true });
    });
    const offMessage = client.on('message', notifyMessage);
    const offLeft = client.on('left', ({ conv }) => {
      if (location.pathname === `/c/${conv}`) navigate('/', { replace: true });
    });
    client.start();
    startNotifications();
    return () => {
      offEnded();
      offMessage();
      offLeft();
    };
  }, []);

  if (!client.me) {
    return <AuthScreen notice={ended} onSignedIn={() => {
      setEnded(null);
      client.start();
      enablePush();
    }} />;
  }

  const unread = client.listConversations().reduce((n, c) => n + (c.unread || 0), 0);
  document.title = unread ? `(${unread}) Parley` : 'Parley';

  const match = /^\/c\/([^/]+)$/.exec(path);
  const convId = match ? decodeURIComponent(match[1]) : null;
  return (
    <div class={`shell ${convId ? 'has-chat' : 'no-chat'}`}>
      <Banner />
      <div class="panes">
        <Sidebar activeId={convId} />
        <main class="main-pane" aria-label="Conversation">
          {convId ? <ChatView key={convId} convId={convId} /> : <EmptyState />}
        </main>
      </div>
    </div>
  );
}

function EmptyState() {
  const hasAny = client.conversations.size > 0;
  return (
    <div class="empty-state">
      <div class="empty-mark"><Icon name="chat" size={36} /></div>
      <h2>{hasAny ? 'Pick a conversation' : 'Welcome to Parley'}</h2>
      <p>{hasAny ? 'Choose a chat on the left, or start a new one.'
        : 'Start a chat with a friend by their username, or create a group.'}</p>
      <button type="button" class="btn primary" onClick={() =>
        window.dispatchEvent(new Event('parley:new-chat'))}>
        <Icon name="plus" size={18} /> New chat
      </button>
    </div>
  );
}
