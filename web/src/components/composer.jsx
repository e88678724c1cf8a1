import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';

import { Icon } from '../icons.jsx';
import { client, nameOf } from '../store.js';

const MAX_BYTES = 16_384;
const drafts = new Map();

/**
 * The message box: Enter sends, Shift+Enter starts a new line, Escape cancels a reply or an
 * edit, Arrow Up in an empty box edits your last message.
 */
export function Composer({ conv, replyTo, editing, onCancel, onEditLast, onSubmitEdit, onSent }) {
  const [text, setText] = useState(drafts.get(conv.id) ?? '');
  const box = useRef(null);

  // Before paint, so that nothing typed right after can be overwritten by the old text.
  useLayoutEffect(() => {
    if (editing) setText(editing.body ?? '');
    else setText(drafts.get(conv.id) ?? '');
    box.current?.focus();
  }, [editing, replyTo]);

  useEffect(() => {
    const el = box.current;
    if (!el) return;
    el.style.height = 'auto';
    el.style.height = `${Math.min(el.scrollHeight, 180)}px`;
  }, [text]);

  const tooLong = new TextEncoder().encode(text).length > MAX_BYTES;

  const submit = () => {
    const body = text.replace(/^\s*\n+|\s+$/g, '');
    if (!body.trim() || tooLong) return;
    if (editing) {
      onSubmitEdit(editing, body);
    } else {
      client.send(conv.id, body, { replyTo: replyTo?.seq });
      onSent();
    }
    setText('');
    drafts.delete(conv.id);
  };

  const onKeyDown = (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      submit();
    } else if (e.key === 'Escape' && (editing || replyTo)) {
      e.preventDefault();
      onCancel();
    } else if (e.key === 'ArrowUp' && !text && !editing) {
      e.preventDefault();
      onEditLast();
    }
  };

  return (
    <div class="composer-wrap">
      {(replyTo || editing) && (
        <div class="composer-context">
          <Icon name={editing ? 'edit' : 'reply'} size={16} />
          <div class="context-text">
            <strong>{editing ? 'Editing message' : `Replying to ${nameOf(replyTo.sender)}`}</strong>
            <span>{(editing ?? replyTo).body}</span>
          </div>
          <button type="button" class="icon-btn small" aria-label={editing ? 'Cancel edit' : 'Cancel reply'}
            onClick={onCancel}><Icon name="close" size={16} /></button>
        </div>
      )}
      <form class="composer" onSubmit={(e) => {
        e.preventDefault();
        submit();
      }}>
        <textarea ref={box} rows={1} value={text} aria-label="Message"
          placeholder={editing ? 'Edit your message' : 'Write a message'}
          onInput={(e) => {
            const value = e.currentTarget.value;
            setText(value);
            if (!editing) {
              drafts.set(conv.id, value);
              if (value.trim()) client.typing(conv.id);
            }
          }}
          onKeyDown={onKeyDown} />
        <button type="submit" class="send-btn" aria-label={editing ? 'Save edit' : 'Send'}
          disabled={!text.trim() || tooLong} title={editing ? 'Save (Enter)' : 'Send (Enter)'}>
          <Icon name={editing ? 'check' : 'send'} size={20} />
        </button>
      </form>
      {tooLong && <p class="form-error small" role="alert">This message is too long.</p>}
      <p class="hint muted small" aria-hidden="true">Enter to send · Shift+Enter for a new line</p>
    </div>
  );
}
