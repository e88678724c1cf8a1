import { useEffect, useState } from 'preact/hooks';

import { listTime } from '../format.js';
import { client, conversationName, nameOf, navigate } from '../store.js';
import { focusMessage } from './chat.jsx';

/** Full-text search results; picking one opens the conversation at that message. */
export function SearchResults({ query, onPick }) {
  const [state, setState] = useState({ loading: true, results: [], error: '' });

  useEffect(() => {
    let cancelled = false;
    setState((s) => ({ ...s, loading: true }));
    const timer = setTimeout(async () => {
      try {
        const reply = await client.search(query, { limit: 30 });
        if (!cancelled) setState({ loading: false, results: reply.results, error: '' });
      } catch (e) {
        if (!cancelled) setState({ loading: false, results: [], error: e.message });
      }
    }, 200);
    return () => {
      cancelled = true;
      clearTimeout(timer);
    };
  }, [query]);

  const words = query.toLowerCase().split(/\s+/).filter(Boolean);
  return (
    <section class="search-results" aria-label="Search results" aria-busy={state.loading}>
      {state.error && <p class="list-empty" role="alert">{state.error}</p>}
      {!state.loading && !state.error && state.results.length === 0 && (
        <p class="list-empty">No messages match “{query}”.</p>
      )}
      <ul>
        {state.results.map(({ message }) => {
          const conv = client.conversations.get(message.conv);
          return (
            <li key={`${message.conv}:${message.seq}`}>
              <button type="button" class="result" onClick={() => {
                onPick();
                focusMessage(message.conv, message.seq);
                navigate(`/c/${encodeURIComponent(message.conv)}`);
              }}>
                <div class="conv-top">
                  <span class="conv-name">{conversationName(conv) || 'Conversation'}</span>
                  <time class="conv-time">{listTime(message.ts)}</time>
                </div>
                <div class="result-body">
                  <strong>{nameOf(message.sender)}: </strong>
                  <Highlight text={message.body ?? ''} words={words} />
                </div>
              </button>
            </li>
          );
        })}
      </ul>
    </section>
  );
}

function Highlight({ text, words }) {
  if (!words.length) return text;
  const escaped = words.map((w) => w.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  const re = new RegExp(`(${escaped.join('|')})`, 'gi');
  return text.split(re).map((part, i) => (i % 2 ? <mark key={i}>{part}</mark> : part));
}
