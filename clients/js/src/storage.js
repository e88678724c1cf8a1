/**
 * The Web Storage interface the client persists its session and outbox in: `localStorage`
 * in a browser, `memoryStorage()` anywhere.
 * @typedef {{getItem(key: string): string | null, setItem(key: string, value: string): void,
 *   removeItem(key: string): void}} StorageLike
 */

/** @returns {StorageLike} */
export function memoryStorage() {
  const map = new Map();
  return {
    getItem: (key) => (map.has(key) ? map.get(key) : null),
    setItem: (key, value) => void map.set(key, String(value)),
    removeItem: (key) => void map.delete(key),
  };
}

/**
 * @param {StorageLike} storage
 * @param {string} key
 */
export function readJson(storage, key) {
  try {
    const text = storage.getItem(key);
    return text ? JSON.parse(text) : null;
  } catch {
    return null;
  }
}

/**
 * @param {StorageLike} storage
 * @param {string} key
 * @param {unknown} value null removes the key
 */
export function writeJson(storage, key, value) {
  try {
    if (value === null || value === undefined) storage.removeItem(key);
    else storage.setItem(key, JSON.stringify(value));
  } catch {
    // Full or unavailable storage (private mode): the client still works for this page.
  }
}
