import { useEffect, useRef, useState } from 'preact/hooks';

import { Icon } from '../icons.jsx';
import { enableNotifications, notificationsSupported, pushStatus } from '../notifications.js';
import { PRESENCE_PUSH_GROUP_SIZE, client, conversationName, navigate, useClient } from '../store.js';
import { Avatar } from './avatar.jsx';

/** A modal <dialog>: focus stays inside, Escape closes it. */
function Modal({ title, onClose, children, wide = false }) {
  const ref = useRef(null);
  useEffect(() => {
    const el = ref.current;
    if (!el.open) el.showModal();
    const cancel = (e) => {
      e.preventDefault();
      onClose();
    };
    el.addEventListener('cancel', cancel);
    return () => el.removeEventListener('cancel', cancel);
  }, []);
  return (
    <dialog ref={ref} class={`modal ${wide ? 'wide' : ''}`} aria-labelledby="modal-title"
      onClick={(e) => e.target === ref.current && onClose()}>
      <div class="modal-inner">
        <header class="modal-head">
          <h2 id="modal-title">{title}</h2>
          <button type="button" class="icon-btn" aria-label="Close" onClick={onClose}>
            <Icon name="close" />
          </button>
        </header>
        {children}
      </div>
    </dialog>
  );
}

export function ConfirmDialog({ title, text, confirmLabel, danger, onConfirm, onCancel }) {
  return (
    <Modal title={title} onClose={onCancel}>
      <p>{text}</p>
      <div class="row end">
        <button type="button" class="btn ghost" onClick={onCancel}>Cancel</button>
        <button type="button" class={`btn ${danger ? 'danger' : 'primary'}`} autoFocus
          onClick={onConfirm}>{confirmLabel}</button>
      </div>
    </Modal>
  );
}

/** Start a direct chat by username, or create a group. */
export function NewChatDialog({ onClose }) {
  const [mode, setMode] = useState('direct');
  return (
    <Modal title="New conversation" onClose={onClose}>
      <div class="tabs" role="tablist" aria-label="Kind of conversation">
        <button type="button" role="tab" aria-selected={mode === 'direct'}
          class={mode === 'direct' ? 'active' : ''} onClick={() => setMode('direct')}>Direct message</button>
        <button type="button" role="tab" aria-selected={mode === 'group'}
          class={mode === 'group' ? 'active' : ''} onClick={() => setMode('group')}>New group</button>
      </div>
      {mode === 'direct' ? <DirectForm onDone={onClose} /> : <GroupForm onDone={onClose} />}
    </Modal>
  );
}

function DirectForm({ onDone }) {
  const [username, setUsername] = useState('');
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const submit = async (e) => {
    e.preventDefault();
    setError('');
    setBusy(true);
    try {
      const name = username.trim().replace(/^@/, '');
      const user = await client.findUser(name);
      if (!user) throw new Error(`Nobody is called “${name}” here. Check the spelling.`);
      if (user.user_id === client.me?.userId) throw new Error('That is you. Pick someone else.');
      const conv = await client.createDirect(user.user_id);
      onDone();
      navigate(`/c/${encodeURIComponent(conv.id)}`);
    } catch (err) {
      setError(err.message);
      setBusy(false);
    }
  };
  return (
    <form onSubmit={submit}>
      <label class="field">
        <span>Their username</span>
        <input name="peer" required autoFocus placeholder="e.g. bob" autocapitalize="none"
          spellcheck={false} value={username} onInput={(e) => setUsername(e.currentTarget.value)} />
      </label>
      {error && <p class="form-error" role="alert">{error}</p>}
      <div class="row end">
        <button type="submit" class="btn primary" disabled={busy || !username.trim()}>Start chat</button>
      </div>
    </form>
  );
}

/** Usernames typed one by one, each checked against the server before it becomes a chip. */
function MemberPicker({ members, setMembers, exclude = [] }) {
  const [name, setName] = useState('');
  const [error, setError] = useState('');
  const add = async () => {
    const username = name.trim().replace(/^@/, '');
    if (!username) return;
    setError('');
    try {
      const user = await client.findUser(username);
      if (!user) {
        setError(`Nobody is called “${username}”.`);
        return;
      }
      if (user.user_id === client.me?.userId || exclude.includes(user.user_id) ||
          members.some((m) => m.user_id === user.user_id)) {
        setError(`${user.display_name || user.username} is already in.`);
        return;
      }
      setMembers([...members, user]);
      setName('');
    } catch (e) {
      setError(e.message);
    }
  };
  return (
    <div class="field">
      <span id="picker-label">Add people by username</span>
      <div class="row">
        <input aria-labelledby="picker-label" name="member" value={name} placeholder="username"
          autocapitalize="none" spellcheck={false}
          onInput={(e) => setName(e.currentTarget.value)}
          onKeyDown={(e) => {
            if (e.key === 'Enter') {
              e.preventDefault();
              add();
            }
          }} />
        <button type="button" class="btn" onClick={add}>Add</button>
      </div>
      {error && <p class="form-error" role="alert">{error}</p>}
      {members.length > 0 && (
        <ul class="chips" aria-label="People to add">
          {members.map((m) => (
            <li key={m.user_id} class="chip">
              <Avatar id={m.user_id} name={m.display_name || m.username} size={22} />
              {m.display_name || m.username}
              {m.display_name && m.display_name !== m.username &&
                <span class="handle">@{m.username}</span>}
              <button type="button" class="icon-btn tiny" aria-label={`Remove ${m.username}`}
                onClick={() => setMembers(members.filter((x) => x !== m))}>
                <Icon name="close" size={14} />
              </button>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

function GroupForm({ onDone }) {
  const [title, setTitle] = useState('');
  const [members, setMembers] = useState([]);
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const submit = async (e) => {
    e.preventDefault();
    setBusy(true);
    setError('');
    try {
      const conv = await client.createGroup(title.trim(), members.map((m) => m.user_id));
      onDone();
      navigate(`/c/${encodeURIComponent(conv.id)}`);
    } catch (err) {
      setError(err.message);
      setBusy(false);
    }
  };
  return (
    <form onSubmit={submit}>
      <label class="field">
        <span>Group name</span>
        <input name="title" required autoFocus maxLength={128} placeholder="e.g. Tea party"
          value={title} onInput={(e) => setTitle(e.currentTarget.value)} />
      </label>
      <MemberPicker members={members} setMembers={setMembers} />
      {error && <p class="form-error" role="alert">{error}</p>}
      <div class="row end">
        <button type="submit" class="btn primary" disabled={busy || !title.trim()}>Create group</button>
      </div>
    </form>
  );
}

/** Members, roles, rename, add, remove, leave (groups); who it is (direct). */
export function GroupInfoDialog({ conv, onClose }) {
  useClient();
  const me = client.me?.userId;
  const myRole = conv.roles?.[me];
  const canManage = conv.type === 'group' && (myRole === 'owner' || myRole === 'admin');
  const [title, setTitle] = useState(conv.title ?? '');
  const [adding, setAdding] = useState([]);
  const [error, setError] = useState('');
  const [confirmLeave, setConfirmLeave] = useState(false);
  const run = async (fn) => {
    setError('');
    try {
      await fn();
    } catch (e) {
      setError(e.message);
    }
  };

  const members = [...(conv.members ?? [])].sort((a, b) =>
    rank(conv.roles?.[a]) - rank(conv.roles?.[b]) || (a === me ? -1 : b === me ? 1 : 0));
  // Groups larger than the server pushes presence for (§13.3): subscribe to the members
  // listed while the list is open (the first 200, the most a connection may follow).
  const shown = conv.type === 'group' && members.length > PRESENCE_PUSH_GROUP_SIZE
    ? members.filter((id) => id !== me).slice(0, 200).join(',') : '';
  useEffect(() => {
    if (!shown) return undefined;
    client.subscribePresence(shown.split(',')).catch(() => {});
    return () => {
      client.subscribePresence([]).catch(() => {});
    };
  }, [shown]);

  if (confirmLeave) {
    return (
      <ConfirmDialog title="Leave group?" confirmLabel="Leave" danger
        text="You will stop getting its messages. Someone in the group can add you back."
        onCancel={() => setConfirmLeave(false)}
        onConfirm={() => run(async () => {
          await client.leave(conv.id);
          onClose();
          navigate('/', { replace: true });
        })} />
    );
  }

  return (
    <Modal title={conv.type === 'group' ? 'Group details' : 'Conversation details'} onClose={onClose} wide>
      {conv.type === 'group' && (
        <form class="row" onSubmit={(e) => {
          e.preventDefault();
          run(() => client.rename(conv.id, title.trim()));
        }}>
          <label class="field grow">
            <span>Group name</span>
            <input name="title" value={title} maxLength={128} disabled={!canManage}
              onInput={(e) => setTitle(e.currentTarget.value)} />
          </label>
          {canManage && (
            <button type="submit" class="btn" disabled={title.trim() === (conv.title ?? '')}>Rename</button>
          )}
        </form>
      )}
      <h3 class="section-title">{members.length} {members.length === 1 ? 'member' : 'members'}</h3>
      <ul class="member-list">
        {members.map((id) => {
          const u = client.user(id);
          const name = u?.display_name || u?.username || '…';
          const role = conv.roles?.[id];
          const canRemove = conv.type === 'group' && id !== me &&
            (myRole === 'owner' || (myRole === 'admin' && role === 'member'));
          const p = client.presence.get(id);
          return (
            <li key={id} class="member">
              <Avatar id={id} name={name} size={34} presence />
              <div class="member-text">
                <strong>{name}{id === me ? ' (you)' : ''}</strong>
                <span class="muted small">@{u?.username ?? ''}{p ? ` · ${p.status}` : ''}</span>
              </div>
              {conv.type === 'group' && role !== 'member' && <span class="role">{role}</span>}
              {canRemove && (
                <button type="button" class="btn small ghost" aria-label={`Remove ${name}`}
                  onClick={() => run(() => client.removeMember(conv.id, id))}>Remove</button>
              )}
            </li>
          );
        })}
      </ul>
      {canManage && (
        <div class="add-members">
          <MemberPicker members={adding} setMembers={setAdding} exclude={conv.members ?? []} />
          {adding.length > 0 && (
            <div class="row end">
              <button type="button" class="btn primary" onClick={() => run(async () => {
                for (const m of adding) await client.addMember(conv.id, m.user_id);
                setAdding([]);
              })}>Add {adding.length === 1 ? (adding[0].display_name || adding[0].username) : `${adding.length} people`}</button>
            </div>
          )}
        </div>
      )}
      <MuteToggle convId={conv.id} onError={setError} />
      {error && <p class="form-error" role="alert">{error}</p>}
      {conv.type === 'group' && (
        <div class="row end danger-zone">
          <button type="button" class="btn danger ghost" onClick={() => setConfirmLeave(true)}>
            Leave {conversationName(conv)}
          </button>
        </div>
      )}
    </Modal>
  );
}

function rank(role) {
  return role === 'owner' ? 0 : role === 'admin' ? 1 : 2;
}

/** The user's notification settings (§12.2), once loaded; null before. */
function useNotificationSettings(onError) {
  const [settings, setSettings] = useState(null);
  useEffect(() => {
    let live = true;
    client.notificationSettings().then((s) => live && setSettings(s),
      (e) => live && onError(e.message));
    return () => {
      live = false;
    };
  }, []);
  return [settings, setSettings];
}

/** Mute this conversation's notifications (§12.3): it stays in the list, unread as ever. */
function MuteToggle({ convId, onError }) {
  const [settings, setSettings] = useNotificationSettings(onError);
  const muted = settings?.muted_conversations?.includes(convId) ?? false;
  return (
    <label class="toggle">
      <input type="checkbox" checked={muted} disabled={!settings} onChange={async (e) => {
        const want = e.currentTarget.checked;
        onError('');
        try {
          await client.setMuted(convId, want);
          const others = settings.muted_conversations.filter((c) => c !== convId);
          setSettings({ ...settings, muted_conversations: want ? [...others, convId] : others });
        } catch (err) {
          onError(err.message);
        }
      }} />
      <span>Mute notifications<small class="muted">
        {settings?.mentions_when_muted === false ? ' Nothing from it notifies.'
          : ' Only messages that mention you notify.'}
      </small></span>
    </label>
  );
}

/** How this browser notifies, and the account's notification settings (§12.2). */
export function NotificationSettingsDialog({ onClose }) {
  const [error, setError] = useState('');
  const [settings, setSettings] = useNotificationSettings(setError);
  const [permission, setPermission] = useState(
    notificationsSupported() ? Notification.permission : 'unsupported');
  const [status, setStatus] = useState(pushStatus());
  const save = async (patch) => {
    setError('');
    try {
      setSettings(await client.setNotificationSettings(patch));
    } catch (e) {
      setError(e.message);
    }
  };
  let how;
  if (permission === 'unsupported') how = 'This browser cannot show notifications.';
  else if (permission === 'denied') how = 'Notifications are blocked for Parley in your browser\'s site settings.';
  else if (permission === 'default') how = 'Notifications are off in this browser.';
  else if (status === 'push') how = 'This browser is notified of new messages even when Parley is closed.';
  else how = 'This browser is notified of new messages while a Parley tab is open.';
  return (
    <Modal title="Notifications" onClose={onClose}>
      <p class="muted">{how}</p>
      {permission === 'default' && (
        <div class="row">
          <button type="button" class="btn small primary" onClick={async () => {
            const result = await enableNotifications();
            setPermission(result);
            setStatus(pushStatus());
          }}>Turn on</button>
        </div>
      )}
      <label class="toggle">
        <input type="checkbox" checked={settings?.private_previews ?? false} disabled={!settings}
          onChange={(e) => save({ private_previews: e.currentTarget.checked })} />
        <span>Private previews<small class="muted">
          {' '}Notifications say "New message" instead of showing the text.</small></span>
      </label>
      <label class="toggle">
        <input type="checkbox" checked={settings?.mentions_when_muted ?? true} disabled={!settings}
          onChange={(e) => save({ mentions_when_muted: e.currentTarget.checked })} />
        <span>Mentions in muted conversations<small class="muted">
          {' '}Still notify when someone writes your @username.</small></span>
      </label>
      {error && <p class="form-error" role="alert">{error}</p>}
    </Modal>
  );
}
