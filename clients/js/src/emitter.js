/** A small typed event emitter: `on` returns the function that unsubscribes. */
export class Emitter {
  constructor() {
    /** @type {Map<string, Set<(detail: any) => void>>} */
    this._listeners = new Map();
  }

  /**
   * @param {string} name
   * @param {(detail: any) => void} listener
   * @returns {() => void} unsubscribe
   */
  on(name, listener) {
    let set = this._listeners.get(name);
    if (!set) this._listeners.set(name, (set = new Set()));
    set.add(listener);
    return () => set.delete(listener);
  }

  /**
   * Resolves with the first event `name` whose detail passes `predicate`.
   * @param {string} name
   * @param {(detail: any) => boolean} [predicate]
   * @returns {Promise<any>}
   */
  once(name, predicate = () => true) {
    return new Promise((resolve) => {
      const off = this.on(name, (detail) => {
        if (!predicate(detail)) return;
        off();
        resolve(detail);
      });
    });
  }

  /**
   * @param {string} name
   * @param {any} [detail]
   */
  emit(name, detail) {
    const set = this._listeners.get(name);
    if (!set) return;
    for (const listener of [...set]) {
      try {
        listener(detail);
      } catch (error) {
        // A listener's bug must not break the client's own bookkeeping.
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }
}
