import { useState } from 'preact/hooks';

import { clock, fullTime, isJumbo, linkify } from '../format.js';
import { Icon } from '../icons.jsx';
import { client, nameOf } from '../store.js';
import { Avatar } from './avatar.jsx';

export const QUICK_REACTIONS = ['👍', '❤️', '😂', '😮', '😢', '🎉'];

/** One message: bubble, quote, reactions, ticks, and its actions. */
export function Message({ item, conv, mine, first, highlighted, onReply, onEdit, onDelete, onReact }) {
  const [picker, setPicker] = useState(false);
  const [selected, setSelected] = useState(false);
  const group = conv.type === 'group';
  const sender = client.user(item.sender);
  const senderName = sender?.display_name || sender?.username || '…';
  const myRole = conv.roles?.[client.me?.userId];
  const canDelete = !item.pending && !item.failed && !item.deleted &&
    (mine || (group && (myRole === 'owner' || myRole === 'admin')));
  const sent = !item.pending && !item.failed && item.seq > 0;
  const reactions = Object.entries(item.reactions ?? {});
  const jumbo = !item.deleted && isJumbo(item.body);

  const label = `${mine ? 'You' : senderName}, ${clock(item.ts)}: ${item.deleted ? 'deleted message' : item.body}`;
  return (
    <li id={item.seq ? `msg-${item.seq}` : undefined}
      class={`msg ${mine ? 'mine' : 'theirs'} ${first ? 'first' : ''} ${item.pending ? 'pending' : ''} ${item.failed ? 'failed' : ''} ${highlighted ? 'highlight' : ''} ${selected ? 'selected' : ''}`}
      data-seq={item.seq || undefined} aria-label={label}>
      {!mine && (
        <div class="msg-avatar">
          {first && <Avatar id={item.sender} name={senderName} size={32} />}
        </div>
      )}
      <div class="msg-body">
        {!mine && group && first && <div class="sender-name" style={{ '--hue': hueOf(item.sender) }}>{senderName}</div>}
        <div class="bubble-row">
          <div class={`bubble ${jumbo ? 'jumbo' : ''} ${item.deleted ? 'deleted' : ''}`}
            onClick={() => setSelected(!selected)}>
            {item.reply_to && !item.deleted && <Quote replied={item.replied} />}
            {item.deleted ? (
              <p class="text"><em>This message was deleted</em></p>
            ) : (
              <p class="text">{linkify(item.body ?? '').map((part, i) => (part.href
                ? <a key={i} href={part.href} target="_blank" rel="noopener noreferrer">{part.text}</a>
                : part.text))}</p>
            )}
            <span class="meta">
              {item.edited_ts && !item.deleted && <span class="edited">edited</span>}
              <time dateTime={new Date(item.ts).toISOString()} title={fullTime(item.ts)}>{clock(item.ts)}</time>
              {mine && <Ticks item={item} />}
            </span>
          </div>
          {sent && !item.deleted && (
            <div class="actions" role="group" aria-label="Message actions">
              <button type="button" class="icon-btn small" aria-label="React" title="React"
                aria-expanded={picker} onClick={() => setPicker(!picker)}><Icon name="smile" size={18} /></button>
              <button type="button" class="icon-btn small" aria-label="Reply" title="Reply"
                onClick={() => onReply(item)}><Icon name="reply" size={18} /></button>
              {mine && (
                <button type="button" class="icon-btn small" aria-label="Edit" title="Edit"
                  onClick={() => onEdit(item)}><Icon name="edit" size={18} /></button>
              )}
              {canDelete && (
                <button type="button" class="icon-btn small" aria-label="Delete" title="Delete"
                  onClick={() => onDelete(item)}><Icon name="trash" size={18} /></button>
              )}
              {picker && (
                <div class="picker" role="menu" aria-label="Pick a reaction"
                  onKeyDown={(e) => e.key === 'Escape' && setPicker(false)}>
                  {QUICK_REACTIONS.map((emoji, i) => (
                    <button type="button" role="menuitem" key={emoji} autoFocus={i === 0}
                      aria-label={`React with ${emoji}`}
                      onClick={() => {
                        setPicker(false);
                        onReact(item, emoji);
                      }}>{emoji}</button>
                  ))}
                </div>
              )}
            </div>
          )}
        </div>
        {reactions.length > 0 && (
          <div class="reactions">
            {reactions.map(([emoji, users]) => {
              const minePick = users.includes(client.me?.userId);
              const who = users.map(nameOf).join(', ');
              return (
                <button type="button" key={emoji} class={`reaction ${minePick ? 'mine' : ''}`}
                  aria-pressed={minePick} title={who}
                  aria-label={`${emoji} ${users.length}: ${who}`}
                  onClick={() => onReact(item, emoji)}>
                  <span>{emoji}</span><span class="count">{users.length}</span>
                </button>
              );
            })}
          </div>
        )}
        {item.failed && (
          <div class="failed-row" role="alert">
            <Icon name="alert" size={16} /> Not sent{item.error ? `: ${item.error}` : ''}.
            <button type="button" class="link" onClick={() => client.retry(item.client_msg_id)}>Retry</button>
            <button type="button" class="link" onClick={() => client.discard(item.client_msg_id)}>Discard</button>
          </div>
        )}
      </div>
    </li>
  );
}

function hueOf(id) {
  let h = 0;
  for (const ch of String(id)) h = (h * 31 + ch.codePointAt(0)) >>> 0;
  return [212, 262, 330, 16, 38, 150, 180, 290][h % 8];
}

function Quote({ replied }) {
  if (!replied) return <div class="quote"><em>Original message not loaded</em></div>;
  return (
    <div class="quote">
      <strong>{nameOf(replied.sender)}</strong>
      <span>{replied.deleted ? <em>Message deleted</em> : replied.body}</span>
    </div>
  );
}

function Ticks({ item }) {
  if (item.failed) return <span class="tick failed" aria-label="not sent"><Icon name="alert" size={14} /></span>;
  if (item.pending) return <span class="tick pending" aria-label="sending" title="Sending…"><Icon name="clock" size={14} /></span>;
  const status = item.status ?? 'sent';
  const label = { sent: 'Sent', delivered: 'Delivered', read: 'Read' }[status];
  return (
    <span class={`tick ${status}`} role="img" aria-label={label} title={label} data-status={status}>
      <Icon name={status === 'sent' ? 'check' : 'checks'} size={15} />
    </span>
  );
}

/** "Alice added Carol", "Bob renamed the group to Tea". */
export function SystemLine({ entry }) {
  const actor = nameOf(entry.sender);
  let text;
  if (entry.kind === 'rename') text = `${actor} renamed the group to “${entry.title}”`;
  else {
    const target = nameOf(entry.user);
    switch (entry.action) {
      case 'created': text = `${actor} created this conversation`; break;
      case 'added': text = `${actor} added ${target}`; break;
      case 'removed': text = `${actor} removed ${target}`; break;
      case 'left': text = `${target} left`; break;
      case 'role': text = `${target} is now ${entry.role === 'owner' ? 'an owner' : entry.role === 'admin' ? 'an admin' : 'a member'}`; break;
      default: text = `${actor} changed the conversation`;
    }
  }
  return <li class="system" id={`msg-${entry.seq}`}><span>{text}</span></li>;
}
