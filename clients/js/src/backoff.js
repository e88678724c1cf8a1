/**
 * Reconnect delays with full jitter (docs/PROTOCOL.md §8.2): a random time between 0 and
 * min(cap, base * 2^attempt).
 */
export class Backoff {
  /**
   * @param {{baseMs?: number, capMs?: number, slowBaseMs?: number, random?: () => number}} [options]
   */
  constructor({ baseMs = 500, capMs = 30_000, slowBaseMs = 5_000, random = Math.random } = {}) {
    this.baseMs = baseMs;
    this.capMs = capMs;
    this.slowBaseMs = slowBaseMs;
    this.random = random;
    this.attempt = 0;
    this.slow = false;
  }

  /** The next delay in ms; each call counts one more attempt. */
  next() {
    const base = this.slow ? this.slowBaseMs : this.baseMs;
    const ceiling = Math.min(this.capMs, base * 2 ** Math.min(this.attempt, 30));
    this.attempt += 1;
    return Math.floor(this.random() * ceiling);
  }

  /** After 4429 or an overloaded server: start from the slow base. */
  slowDown() {
    this.slow = true;
  }

  /** A connection reached ready and finished its sync. */
  reset() {
    this.attempt = 0;
    this.slow = false;
  }
}
