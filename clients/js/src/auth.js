import { ParleyError } from './errors.js';
import { readJson, writeJson } from './storage.js';

/**
 * @typedef {object} Session
 * @property {string} userId
 * @property {string} deviceId
 * @property {string} accessToken
 * @property {string} refreshToken
 * @property {number} expiresAt  ms since the epoch when the access token expires (local clock)
 */

const SESSION_KEY = 'parley.session';

/**
 * Runs `fn` holding the named lock: Web Locks in a browser (so two tabs never refresh the
 * same token at once, which the server would take as token theft), a promise chain elsewhere.
 * @returns {(name: string, fn: () => Promise<any>) => Promise<any>}
 */
export function defaultLock() {
  const locks = globalThis.navigator?.locks;
  if (locks && typeof locks.request === 'function') {
    return (name, fn) => locks.request(name, fn);
  }
  /** @type {Map<string, Promise<any>>} */
  const tails = new Map();
  return (name, fn) => {
    const previous = tails.get(name) ?? Promise.resolve();
    const run = previous.catch(() => {}).then(fn);
    tails.set(name, run.catch(() => {}));
    return run;
  };
}

/**
 * Accounts, tokens and authenticated HTTP. Keeps the session in `storage`, refreshes the
 * access token shortly before it expires and after a 401, and serializes refreshes
 * (docs/PROTOCOL.md §3: a refresh token works once).
 */
export class Auth {
  /**
   * @param {object} o
   * @param {string} o.baseUrl
   * @param {typeof fetch} o.fetch
   * @param {import('./storage.js').StorageLike} o.storage
   * @param {(name: string, fn: () => Promise<any>) => Promise<any>} o.lock
   * @param {string} o.deviceName
   * @param {number} o.requestTimeoutMs
   * @param {(reason: {code: string, message: string}) => void} o.onSessionEnded
   * @param {(session: Session | null) => void} o.onSessionChanged
   */
  constructor(o) {
    this.baseUrl = o.baseUrl.replace(/\/+$/, '');
    this._fetch = o.fetch;
    this._storage = o.storage;
    this._lock = o.lock;
    this._deviceName = o.deviceName;
    this._timeoutMs = o.requestTimeoutMs;
    this._onSessionEnded = o.onSessionEnded;
    this._onSessionChanged = o.onSessionChanged;
    /** @type {Session | null} */
    this.session = readJson(this._storage, SESSION_KEY);
    /** @type {Promise<Session> | null} */
    this._refreshing = null;
    this._timer = null;
    this._scheduleRefresh();
  }

  /** Stops the refresh timer (the session stays stored). */
  stop() {
    clearTimeout(this._timer);
    this._timer = null;
  }

  /**
   * @param {{username: string, password: string, displayName?: string}} p
   * @returns {Promise<{user_id: string, username: string, display_name: string}>}
   */
  register({ username, password, displayName }) {
    const body = { username, password };
    if (displayName) body.display_name = displayName;
    return this.request('POST', '/v1/auth/register', { body, auth: false });
  }

  /**
   * @param {{username: string, password: string}} p
   * @returns {Promise<Session>}
   */
  async login({ username, password }) {
    const tokens = await this.request('POST', '/v1/auth/login', {
      body: { username, password, device_name: this._deviceName },
      auth: false,
    });
    return this._adopt(tokens);
  }

  /** Revokes this device on the server (best effort) and forgets the session. */
  async logout() {
    const session = this.session;
    this._setSession(null);
    if (!session) return;
    try {
      await this._raw('POST', '/v1/auth/logout', { token: session.accessToken });
    } catch {
      // Offline: the tokens are forgotten here; the device expires with its refresh token.
    }
  }

  /**
   * A usable access token, refreshed first when it expires within `minValidityMs`.
   * @param {number} [minValidityMs]
   */
  async accessToken(minValidityMs = 30_000) {
    const session = this.session;
    if (!session) throw new ParleyError('session_ended', 'not logged in');
    if (session.expiresAt - Date.now() > minValidityMs) return session.accessToken;
    return (await this.refresh(session.accessToken)).accessToken;
  }

  /**
   * Rotates the tokens. `staleAccessToken` is the token that was found wanting: if the
   * session moved on since (another caller or tab refreshed), the newer tokens are used
   * instead of refreshing twice.
   * @param {string} [staleAccessToken]
   * @returns {Promise<Session>}
   */
  refresh(staleAccessToken) {
    if (this._refreshing) return this._refreshing;
    this._refreshing = this._lock('parley-refresh', () => this._refreshLocked(staleAccessToken))
      .finally(() => {
        this._refreshing = null;
      });
    return this._refreshing;
  }

  async _refreshLocked(staleAccessToken) {
    // Another tab may have refreshed while we waited for the lock: its tokens are in storage.
    const stored = readJson(this._storage, SESSION_KEY);
    if (!this.session) throw new ParleyError('session_ended', 'not logged in');
    if (stored && stored.deviceId === this.session.deviceId &&
        stored.refreshToken !== this.session.refreshToken) {
      this.session = stored;
      this._scheduleRefresh();
      this._onSessionChanged(stored);
    }
    const session = this.session;
    if (staleAccessToken !== undefined && session.accessToken !== staleAccessToken &&
        session.expiresAt - Date.now() > 30_000) {
      return session;
    }
    let tokens;
    try {
      tokens = await this._raw('POST', '/v1/auth/refresh', {
        body: { refresh_token: session.refreshToken },
      });
    } catch (error) {
      if (error instanceof ParleyError && error.code === 'unauthorized') {
        this._end({ code: 'session_ended', message: sessionEndedMessage(error.message) });
        throw new ParleyError('session_ended', sessionEndedMessage(error.message));
      }
      throw error;
    }
    return this._adopt(tokens);
  }

  _end(reason) {
    if (!this.session) return;
    this._setSession(null);
    this._onSessionEnded(reason);
  }

  /** @returns {Session} */
  _adopt(tokens) {
    const session = {
      userId: tokens.user_id,
      deviceId: tokens.device_id,
      accessToken: tokens.access_token,
      refreshToken: tokens.refresh_token,
      expiresAt: Date.now() + Number(tokens.expires_in) * 1000,
    };
    this._setSession(session);
    return session;
  }

  /** @param {Session | null} session */
  _setSession(session) {
    this.session = session;
    writeJson(this._storage, SESSION_KEY, session);
    this._scheduleRefresh();
    this._onSessionChanged(session);
  }

  _scheduleRefresh() {
    clearTimeout(this._timer);
    this._timer = null;
    const session = this.session;
    if (!session) return;
    // A minute early (or at 80% of a short lifetime), so requests never meet an expired token.
    const lifetime = session.expiresAt - Date.now();
    const lead = Math.min(60_000, Math.max(1_000, lifetime * 0.2));
    const delay = Math.max(0, lifetime - lead);
    this._timer = setTimeout(() => {
      this.refresh(session.accessToken).catch(() => {
        // Offline: the next request or reconnect refreshes on demand.
      });
    }, Math.min(delay, 2 ** 31 - 1));
    // Never keep a Node process alive just for this.
    this._timer?.unref?.();
  }

  /**
   * An HTTP call to the API. With `auth` (the default) it carries the access token and, after
   * a 401, refreshes once and tries again.
   * @param {string} method
   * @param {string} path
   * @param {{body?: unknown, query?: Record<string, string | number | undefined>, auth?: boolean}} [o]
   */
  async request(method, path, { body, query, auth = true } = {}) {
    if (query) {
      const params = new URLSearchParams();
      for (const [k, v] of Object.entries(query)) if (v !== undefined) params.set(k, String(v));
      const qs = params.toString();
      if (qs) path += `?${qs}`;
    }
    if (!auth) return this._raw(method, path, { body });
    const token = await this.accessToken();
    try {
      return await this._raw(method, path, { body, token });
    } catch (error) {
      if (!(error instanceof ParleyError) || error.code !== 'unauthorized') throw error;
      const fresh = await this.refresh(token);
      return this._raw(method, path, { body, token: fresh.accessToken });
    }
  }

  async _raw(method, path, { body, token } = {}) {
    const headers = {};
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (token) headers.Authorization = `Bearer ${token}`;
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), this._timeoutMs);
    let response;
    try {
      response = await this._fetch(this.baseUrl + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: controller.signal,
      });
    } catch (cause) {
      throw new ParleyError('unavailable', 'cannot reach the server', { cause });
    } finally {
      clearTimeout(timer);
    }
    if (response.status === 204) return null;
    let parsed = null;
    try {
      parsed = await response.json();
    } catch {
      parsed = null;
    }
    if (!response.ok) throw ParleyError.fromBody(parsed, response.status);
    return parsed;
  }
}

function sessionEndedMessage(serverMessage) {
  if (/reused/.test(serverMessage)) {
    return 'Your session was ended because it was used from somewhere else. Please sign in again.';
  }
  if (/revoked/.test(serverMessage)) return 'You were signed out. Please sign in again.';
  return 'Your session has expired. Please sign in again.';
}
