import { useEffect, useState } from 'preact/hooks';

import { Icon } from '../icons.jsx';
import { client, useClient } from '../store.js';

/** Says when the app is not live: offline with a countdown, or catching up. */
export function Banner() {
  useClient((c) => c.what === 'state');
  const [now, setNow] = useState(Date.now());
  const [since, setSince] = useState(Date.now());
  const state = client.state;
  const live = state === 'online';

  useEffect(() => {
    setSince(Date.now());
    if (live) return undefined;
    const timer = setInterval(() => setNow(Date.now()), 500);
    return () => clearInterval(timer);
  }, [state, client.retryInMs]);

  // A first connect that takes a moment is not worth a banner.
  if (live || state === 'signed_out' || (state !== 'offline' && now - since < 800)) {
    return <div class="banner-slot" role="status" aria-live="polite" />;
  }
  const retryIn = Math.max(0, Math.ceil((since + client.retryInMs - now) / 1000));
  return (
    <div class="banner-slot" role="status" aria-live="polite">
      <div class={`banner ${state}`}>
        <Icon name={state === 'offline' ? 'wifiOff' : 'clock'} size={18} />
        {state === 'offline' && (
          <span>You are offline. {retryIn > 0 ? `Reconnecting in ${retryIn} s…` : 'Reconnecting…'}
            {' '}Messages you send will go out when you are back.</span>
        )}
        {state === 'connecting' && <span>Connecting…</span>}
        {state === 'syncing' && <span>Catching up…</span>}
        {state === 'stopped' && <span>Disconnected.</span>}
        {(state === 'offline' || state === 'stopped') && (
          <button type="button" class="btn small" onClick={() => {
            client.start();
            client.reconnectNow();
          }}>Retry now</button>
        )}
      </div>
    </div>
  );
}
