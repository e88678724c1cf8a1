import { useState } from 'preact/hooks';

import { Icon } from '../icons.jsx';
import { client } from '../store.js';

/** Sign in or create an account. `notice` explains why the user is here again. */
export function AuthScreen({ notice, onSignedIn }) {
  const [mode, setMode] = useState('login');
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [displayName, setDisplayName] = useState('');
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);

  const submit = async (event) => {
    event.preventDefault();
    setError('');
    setBusy(true);
    try {
      if (mode === 'register') {
        await client.register({ username: username.trim(), password, displayName: displayName.trim() });
      }
      await client.login({ username: username.trim(), password });
      onSignedIn();
    } catch (e) {
      setError(explain(e, mode));
      setBusy(false);
    }
  };

  const switchTo = (m) => {
    setMode(m);
    setError('');
  };

  return (
    <div class="auth">
      <div class="auth-card">
        <div class="brand">
          <img src="/icon.svg" alt="" width="44" height="44" />
          <div>
            <h1>Parley</h1>
            <p class="muted">Calm, quick chat with your people.</p>
          </div>
        </div>
        {notice && <div class="notice" role="alert"><Icon name="alert" size={18} />{notice}</div>}
        <div class="tabs" role="tablist" aria-label="Sign in or create an account">
          <button type="button" role="tab" aria-selected={mode === 'login'} id="tab-login"
            class={mode === 'login' ? 'active' : ''} onClick={() => switchTo('login')}>Sign in</button>
          <button type="button" role="tab" aria-selected={mode === 'register'} id="tab-register"
            class={mode === 'register' ? 'active' : ''} onClick={() => switchTo('register')}>
            Create account</button>
        </div>
        <form onSubmit={submit} aria-labelledby={mode === 'login' ? 'tab-login' : 'tab-register'}>
          <label class="field">
            <span>Username</span>
            <input name="username" autocomplete="username" required minLength={3} maxLength={32}
              pattern="[A-Za-z0-9_.\-]{3,32}" title="3 to 32 letters, digits, _ . or -"
              value={username} onInput={(e) => setUsername(e.currentTarget.value)}
              autoFocus autocapitalize="none" spellcheck={false} />
          </label>
          {mode === 'register' && (
            <label class="field">
              <span>Display name <em class="muted">(optional)</em></span>
              <input name="display_name" autocomplete="name" maxLength={64} value={displayName}
                onInput={(e) => setDisplayName(e.currentTarget.value)} />
            </label>
          )}
          <label class="field">
            <span>Password</span>
            <input name="password" type="password" required minLength={8} maxLength={256}
              autocomplete={mode === 'login' ? 'current-password' : 'new-password'}
              value={password} onInput={(e) => setPassword(e.currentTarget.value)} />
            {mode === 'register' && <small class="muted">At least 8 characters.</small>}
          </label>
          {error && <p class="form-error" role="alert">{error}</p>}
          <button class="btn primary wide" type="submit" disabled={busy}>
            {busy ? 'One moment…' : mode === 'login' ? 'Sign in' : 'Create account'}
          </button>
        </form>
      </div>
    </div>
  );
}

function explain(error, mode) {
  switch (error?.code) {
    case 'unauthorized': return 'That username and password do not match.';
    case 'conflict': return 'That username is taken. Try another one.';
    case 'rate_limited': return 'Too many attempts. Wait a moment and try again.';
    case 'unavailable': return 'Cannot reach the server. Check your connection.';
    case 'invalid_request': return error.message.charAt(0).toUpperCase() + error.message.slice(1) + '.';
    default: return mode === 'login' ? 'Could not sign in.' : 'Could not create the account.';
  }
}
