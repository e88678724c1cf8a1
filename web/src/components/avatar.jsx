import { hueFor, initials } from '../format.js';
import { client } from '../store.js';

/**
 * Initials on a colour of the person's own, with a presence dot when presence is known.
 * @param {{id: string, name: string, size?: number, presence?: boolean, group?: boolean}} p
 */
export function Avatar({ id, name, size = 40, presence = false, group = false }) {
  const status = presence ? client.presence.get(id)?.status : undefined;
  return (
    <span class={`avatar ${group ? 'group' : ''}`} aria-hidden="true" data-presence={status}
      style={{ '--hue': hueFor(id), width: `${size}px`, height: `${size}px`,
        fontSize: `${Math.round(size * 0.38)}px` }}>
      {initials(name)}
      {status && <span class={`presence-dot ${status}`} />}
    </span>
  );
}
