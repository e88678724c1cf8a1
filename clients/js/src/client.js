import { Auth, defaultLock } from './auth.js';
import { Backoff } from './backoff.js';
import { Emitter } from './emitter.js';
import { ParleyError } from './errors.js';
import { ConversationLog } from './log.js';
import { memoryStorage, readJson, writeJson } from './storage.js';

/** @typedef {import('./log.js').Entry} Entry */

/**
 * Connection states, in the order a connection goes through them:
 * - `signed_out`: no session;
 * - `connecting`: opening the socket and authenticating;
 * - `syncing`: `ready` came; catching up (sync, gaps, outbox);
 * - `online`: caught up, live;
 * - `offline`: disconnected, waiting `retryInMs` before the next attempt;
 * - `stopped`: stop() was called.
 * @typedef {'signed_out' | 'connecting' | 'syncing' | 'online' | 'offline' | 'stopped'} ConnectionState
 */

const RETRYABLE_SEND = new Set(['rate_limited', 'unavailable', 'internal', 'timeout']);

/**
 * Parley's client: one user's session, one WebSocket, and a local copy of the conversations
 * that survives disconnects without losing or duplicating anything (docs/PROTOCOL.md §8).
 *
 * ```js
 * const client = new ParleyClient({ baseUrl: 'http://localhost:8080' });
 * await client.login({ username: 'alice', password: 'correct horse battery' });
 * client.on('message', ({ conv, entry }) => console.log(entry.body));
 * client.start();
 * client.send(convId, 'hello');
 * ```
 */
export class ParleyClient {
  /**
   * @param {import('./index.js').ClientOptions} [options]
   */
  constructor(options = {}) {
    const baseUrl = options.baseUrl ?? globalThis.location?.origin;
    if (!baseUrl) throw new TypeError('ParleyClient needs a baseUrl outside a browser');
    this.baseUrl = baseUrl.replace(/\/+$/, '');
    this._WebSocket = options.WebSocket ?? null;
    this._storage = options.storage ?? memoryStorage();
    this._requestTimeoutMs = options.requestTimeoutMs ?? 15_000;
    this._pongTimeoutMs = options.pongTimeoutMs ?? 10_000;
    this._pageSize = options.pageSize ?? 50;
    this._maxGap = options.maxGapEntries ?? 1_000;
    this._loadAll = options.loadAll ?? false;
    this._typingShowMs = options.typingShowMs ?? 5_000;
    this._typingSendMs = options.typingSendIntervalMs ?? 3_000;
    this._presenceGroupLimit = options.presenceGroupLimit ?? 100;
    this._backoff = new Backoff({ ...options.backoff, random: options.random ?? Math.random });
    this._events = new Emitter();

    this.auth = new Auth({
      baseUrl: this.baseUrl,
      fetch: options.fetch ?? globalThis.fetch.bind(globalThis),
      storage: this._storage,
      lock: options.lock ?? defaultLock(),
      deviceName: options.deviceName ?? defaultDeviceName(),
      requestTimeoutMs: this._requestTimeoutMs,
      onSessionEnded: (reason) => this._sessionEnded(reason),
      onSessionChanged: (session) => this._events.emit('session', session),
    });

    /** @type {ConnectionState} */
    this.state = this.auth.session ? 'offline' : 'signed_out';
    /** ms until the next connection attempt, while `offline` */
    this.retryInMs = 0;
    /** @type {Map<string, any>} conversation id -> conversation (summary fields + `log`) */
    this.conversations = new Map();
    /** @type {Map<string, {user_id: string, username: string, display_name: string}>} */
    this.users = new Map();
    /**
     * user id -> their presence (§13): `{status, last_seen, away?, text?}`, from events, the
     * query made after each (re)connect, and subscriptions; the latest by `last_seen` wins.
     * @type {Map<string, {status: 'online' | 'offline', last_seen?: number | null, away?: boolean, text?: string}>}
     */
    this.presence = new Map();
    /** @type {string[]} users this client wants presence_subscribe'd to (kept across reconnects) */
    this._presenceSubs = [];
    /** @type {Set<string>} users whose presence is due to be queried (new conversation members) */
    this._presenceDue = new Set();
    this._presenceTimer = null;
    this._presenceSubscribedOn = null;
    /** @type {any[]} messages sent and not yet acknowledged, oldest first */
    this.outbox = [];
    /** @type {Map<string, Map<string, number>>} conv -> user -> typing until (ms) */
    this._typing = new Map();
    /** @type {Map<string, number>} conv -> when we last sent typing */
    this._typingSent = new Map();
    /** @type {Set<string>} conversations someone asked to load */
    this._wanted = new Set();
    /** @type {Map<string, Promise<void>>} */
    this._loading = new Map();
    /** @type {Map<string, Promise<any>>} */
    this._userFetches = new Map();
    /** @type {Map<string, {resolve: Function, reject: Function, timer: any}>} */
    this._pending = new Map();
    this._nextId = 1;
    this._ws = null;
    this._running = false;
    this._wake = null;
    this._deliveredTimers = new Map();
    this._fetchingGap = new Map();
    this._loadOutbox();
  }

  // ---- session ---------------------------------------------------------------------------

  /** The signed-in user, or null. */
  get me() {
    const s = this.auth.session;
    return s ? { userId: s.userId, deviceId: s.deviceId } : null;
  }

  /**
   * @param {string} name  'state' | 'session' | 'session_ended' | 'conversations' | 'entries'
   *   | 'message' | 'receipt' | 'typing' | 'presence' | 'users' | 'outbox' | 'invitation'
   *   | 'change'
   * @param {(detail: any) => void} listener
   * @returns {() => void} unsubscribe
   */
  on(name, listener) {
    return this._events.on(name, listener);
  }

  /**
   * True when the server holds this client's presence subscriptions on the current connection
   * (or there are none). After a reconnect it is false until the renewal is answered; a
   * 'change' event ('presence') says when it turns true.
   */
  get presenceSubscribed() {
    if (!this._presenceSubs.length) return true;
    return this._ws !== null && this._presenceSubscribedOn === this._ws;
  }

  /**
   * Resolves with the first event `name` whose detail passes `predicate`.
   * @param {string} name
   * @param {(detail: any) => boolean} [predicate]
   */
  once(name, predicate) {
    return this._events.once(name, predicate);
  }

  /** @param {{username: string, password: string, displayName?: string}} p */
  register(p) {
    return this.auth.register(p);
  }

  /** Logs in (a new device) and keeps the session in storage. Call start() to connect. */
  async login(p) {
    const session = await this.auth.login(p);
    this._resetLocal();
    this._loadOutbox();
    this._setState('offline');
    return session;
  }

  /** Revokes this device, closes the socket and forgets everything local. */
  async logout() {
    this.stop();
    writeJson(this._storage, this._outboxKey(), null);
    await this.auth.logout();
    this._resetLocal();
    this._setState('signed_out');
  }

  _sessionEnded(reason) {
    this.stop();
    this._resetLocal();
    this._setState('signed_out');
    this._events.emit('session_ended', reason);
  }

  _resetLocal() {
    this.conversations.clear();
    this.users.clear();
    this.presence.clear();
    this._presenceSubs = [];
    this._presenceDue.clear();
    this.outbox = [];
    this._typing.clear();
    this._wanted.clear();
    this._emitChange('conversations');
  }

  // ---- connection ------------------------------------------------------------------------

  /** Connects, and keeps reconnecting with backoff until stop() or the session ends. */
  start() {
    if (this._running || !this.auth.session) return;
    this._running = true;
    this._run();
  }

  /** Closes the socket and stops reconnecting. Local state stays. */
  stop() {
    this._running = false;
    this.auth.stop();
    this._closeSocket(1000, 'client stopped');
    this._wake?.();
    if (this.state !== 'signed_out') this._setState('stopped');
  }

  /** Skips the wait of the current backoff, e.g. when the browser says it is online again. */
  reconnectNow() {
    this._backoff.reset();
    this._wake?.();
  }

  /** The network is gone (the browser said so): drop the socket now rather than at the next ping. */
  networkLost() {
    this._closeSocket(4000, 'network lost');
  }

  /** Resolves once the client is `online` (connected and caught up). */
  whenOnline() {
    if (this.state === 'online') return Promise.resolve();
    return this.once('state', (s) => s.state === 'online');
  }

  async _run() {
    while (this._running) {
      let closeCode = 0;
      try {
        closeCode = await this._connectOnce();
      } catch (error) {
        if (error instanceof ParleyError && error.code === 'session_ended') return;
        closeCode = 0;
      }
      if (!this._running) return;
      if (closeCode === 4429) this._backoff.slowDown();
      const delay = this._backoff.next();
      this.retryInMs = delay;
      this._setState('offline');
      await new Promise((resolve) => {
        const timer = setTimeout(resolve, delay);
        this._wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this._wake = null;
    }
  }

  async _webSocketClass() {
    if (this._WebSocket) return this._WebSocket;
    if (typeof globalThis.WebSocket === 'function') return (this._WebSocket = globalThis.WebSocket);
    // Node 20 has no global WebSocket: the ws package stands in.
    const ws = await import('ws');
    return (this._WebSocket = ws.WebSocket ?? ws.default);
  }

  /**
   * One connection, from open to close. Resolves with the close code.
   * @returns {Promise<number>}
   */
  async _connectOnce() {
    this._setState('connecting');
    let token = await this.auth.accessToken();
    const WebSocketClass = await this._webSocketClass();
    const url = `${this.baseUrl.replace(/^http/, 'ws')}/v1/ws`;
    const ws = new WebSocketClass(url);
    this._ws = ws;
    let closed;
    const closedPromise = new Promise((resolve) => {
      closed = resolve;
    });
    let heartbeat = null;
    ws.onmessage = (event) => this._onFrame(ws, event.data);
    ws.onclose = (event) => {
      clearInterval(heartbeat);
      if (this._ws === ws) this._ws = null;
      this._failPending(new ParleyError('unavailable', 'the connection was lost'));
      closed(event.code ?? 1006);
    };
    ws.onerror = () => {};

    const opened = await Promise.race([
      new Promise((resolve) => {
        ws.onopen = () => resolve(true);
      }),
      closedPromise.then(() => false),
    ]);
    if (!opened) return closedPromise;

    // Authenticate first: live events flow from `ready` on, before we fetch anything (§8.2).
    let ready;
    try {
      ready = await this._request({ type: 'auth', token }, ws);
    } catch {
      const code = await closedPromise;
      if (code === 4401) {
        // Expired or revoked: refresh (a failure ends the session) and go again.
        await this.auth.refresh(token);
      }
      return code;
    }
    this.heartbeatMs = ready.heartbeat_ms;
    const pingEvery = Math.max(1_000, Math.floor((ready.heartbeat_ms ?? 30_000) / 2));
    heartbeat = setInterval(() => {
      this._request({ type: 'ping' }, ws, this._pongTimeoutMs).catch(() => {
        // No pong: the server or the path to it is gone. Reconnect.
        if (this._ws === ws) this._closeSocket(4000, 'no pong', ws);
      });
    }, pingEvery);
    heartbeat.unref?.();

    this._setState('syncing');
    try {
      await this._sync(ws);
      if (this._ws === ws) {
        this._backoff.reset();
        this._setState('online');
        this._flushOutbox();
        // Nothing is pushed on connect (§13.3): fetch the current state, then events keep it.
        this._refreshPresence(ws).catch(() => {});
      }
    } catch {
      this._closeSocket(4000, 'sync failed', ws);
    }
    return closedPromise;
  }

  _closeSocket(code, reason, ws = this._ws) {
    if (!ws) return;
    try {
      ws.close(code, reason);
    } catch {
      // Already closing.
    }
    if (this._ws === ws) this._ws = null;
  }

  /**
   * Sends a request and resolves with its reply (matched by `re`).
   * @param {Record<string, unknown>} frame
   * @param {any} [ws]
   * @param {number} [timeoutMs]
   */
  _request(frame, ws = this._ws, timeoutMs = this._requestTimeoutMs) {
    if (!ws || ws.readyState !== 1) {
      return Promise.reject(new ParleyError('unavailable', 'not connected'));
    }
    const id = `c${this._nextId++}`;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this._pending.delete(id);
        reject(new ParleyError('timeout', `no reply to ${frame.type} in ${timeoutMs} ms`));
      }, timeoutMs);
      timer.unref?.();
      this._pending.set(id, { resolve, reject, timer, ws });
      try {
        ws.send(JSON.stringify({ ...frame, id }));
      } catch (cause) {
        clearTimeout(timer);
        this._pending.delete(id);
        reject(new ParleyError('unavailable', 'not connected', { cause }));
      }
    });
  }

  /**
   * A request on the current connection (for app code: history, read, ...).
   * @param {Record<string, unknown>} frame
   */
  request(frame) {
    return this._request(frame);
  }

  _failPending(error) {
    for (const [id, p] of this._pending) {
      if (p.ws && p.ws.readyState !== 1) {
        clearTimeout(p.timer);
        this._pending.delete(id);
        p.reject(error);
      }
    }
  }

  _onFrame(ws, data) {
    if (ws !== this._ws) return;
    let frame;
    try {
      frame = JSON.parse(typeof data === 'string' ? data : String(data));
    } catch {
      return;
    }
    if (frame.re !== undefined && this._pending.has(String(frame.re))) {
      const p = this._pending.get(String(frame.re));
      this._pending.delete(String(frame.re));
      clearTimeout(p.timer);
      if (frame.type === 'error') p.reject(ParleyError.fromBody(frame));
      else p.resolve(frame);
      return;
    }
    switch (frame.type) {
      case 'message':
        this._onLiveEntry(stripType(frame));
        break;
      case 'conversation':
        this._onConversation(frame.conversation);
        break;
      case 'receipt':
        this._onReceipt(frame);
        break;
      case 'typing':
        this._onTyping(frame.conv, frame.user);
        break;
      case 'invitation':
        // Someone's add that the user's group_adds setting turned into an invitation.
        if (frame.invitation) this._events.emit('invitation', frame.invitation);
        break;
      case 'presence': {
        const { type: _t, id: _id, user, ...info } = frame;
        this._applyPresence(user, info);
        break;
      }
      default:
        // Errors without `re` and frames of later versions: nothing to do.
        break;
    }
  }

  // ---- presence (§13) -----------------------------------------------------------------------

  /**
   * Takes one user's state (an event, a query answer or a subscribe answer) unless what we
   * hold is newer (§13.1: larger `last_seen` wins, the later one on a tie), and announces it
   * as a 'presence' event of the event's shape, whatever its source.
   * @returns {boolean} whether it was taken
   */
  _applyPresence(user, info) {
    if (!user || (info.status !== 'online' && info.status !== 'offline')) return false;
    const held = this.presence.get(user);
    const seen = (p) => (typeof p?.last_seen === 'number' ? p.last_seen : -Infinity);
    if (held && seen(held) > seen(info)) return false;
    const state = { status: info.status, last_seen: info.last_seen ?? null };
    if (info.away) state.away = true;
    if (typeof info.text === 'string' && info.text) state.text = info.text;
    if (held && held.status === state.status && held.last_seen === state.last_seen &&
        !!held.away === !!state.away && held.text === state.text) {
      return true; // the same state again: nothing to announce
    }
    this.presence.set(user, state);
    this._events.emit('presence', { type: 'presence', user, ...state });
    this._emitChange('presence');
    return true;
  }

  /**
   * The current presence of `userIds` (POST /v1/presence/query, 200 per call), applied to
   * `presence` and announced like events. Users you may not see are left out.
   * @param {string[]} userIds
   * @returns {Promise<{user_id: string, status: 'online' | 'offline', last_seen: number | null, away?: boolean, text?: string}[]>}
   */
  async queryPresence(userIds) {
    const ids = [...new Set(userIds)];
    const chunks = [];
    for (let i = 0; i < ids.length; i += 200) chunks.push(ids.slice(i, i + 200));
    const replies = await Promise.all(chunks.map((chunk) =>
      this.auth.request('POST', '/v1/presence/query', { body: { user_ids: chunk } })));
    const out = [];
    for (const reply of replies) {
      for (const p of reply.presence ?? []) {
        const { user_id: user, ...info } = p;
        this._applyPresence(user, info);
        out.push(p);
      }
    }
    return out;
  }

  /**
   * Sets this user's status for all their devices (WebSocket `presence`, §13.4).
   * @param {'online' | 'away'} status
   * @param {string} [text] up to 64 bytes; none clears it
   */
  async setPresence(status, text) {
    const frame = { type: 'presence', status };
    if (text !== undefined && text !== null && text !== '') frame.text = text;
    await this._request(frame);
  }

  /**
   * Replaces this client's presence subscriptions with `userIds` (the first 200; `[]` ends
   * them) so their changes arrive even when no event would (large groups, §13.5). Kept across
   * reconnects. The answer's states are applied and announced like events.
   * @param {string[]} userIds
   */
  async subscribePresence(userIds) {
    const ids = [...new Set(userIds)].slice(0, 200);
    const same = ids.length === this._presenceSubs.length &&
      ids.every((id, i) => id === this._presenceSubs[i]);
    this._presenceSubs = ids;
    if (same && this._presenceSubscribedOn === this._ws) return [];
    if (this.state !== 'online') return []; // the connect's refresh subscribes
    return this._sendSubscribe(this._ws);
  }

  async _sendSubscribe(ws) {
    const ids = this._presenceSubs;
    const reply = await this._request({ type: 'presence_subscribe', users: ids }, ws);
    if (ids === this._presenceSubs) this._presenceSubscribedOn = ws;
    for (const p of reply.presence ?? []) {
      const { user_id: user, ...info } = p;
      this._applyPresence(user, info);
    }
    this._emitChange('presence');
    return reply.presence ?? [];
  }

  /** Who presence is queried for on connect: the members of direct chats and of groups small
   * enough for the server to push their changes (larger ones are for subscriptions). */
  _presencePeers() {
    const me = this.me?.userId;
    const ids = new Set();
    for (const conv of this.conversations.values()) {
      const members = conv.members ?? [];
      if (conv.type !== 'direct' && members.length > this._presenceGroupLimit) continue;
      for (const m of members) if (m !== me) ids.add(m);
    }
    return ids;
  }

  async _refreshPresence(ws) {
    this._presenceDue.clear();
    const jobs = [this.queryPresence([...this._presencePeers()])];
    this._presenceSubscribedOn = null;
    if (this._presenceSubs.length) jobs.push(this._sendSubscribe(ws));
    await Promise.all(jobs);
  }

  /** New members (a new chat, someone added) get their state queried, batched. */
  _presenceForMembers(conv) {
    if (this.state !== 'online') return;
    const members = conv.members ?? [];
    if (conv.type !== 'direct' && members.length > this._presenceGroupLimit) return;
    const me = this.me?.userId;
    for (const m of members) {
      if (m !== me && !this.presence.has(m)) this._presenceDue.add(m);
    }
    if (!this._presenceDue.size || this._presenceTimer) return;
    this._presenceTimer = setTimeout(() => {
      this._presenceTimer = null;
      const ids = [...this._presenceDue];
      this._presenceDue.clear();
      if (ids.length && this.state === 'online') this.queryPresence(ids).catch(() => {});
    }, 0);
  }

  // ---- sync and gaps (§8.2) --------------------------------------------------------------

  async _sync(ws) {
    // The server answers a page at a time (a flood of groups cannot make one reply huge):
    // follow next_cursor until has_more is false, so that the list is complete.
    const listed = new Set();
    let after;
    for (;;) {
      const request = { type: 'sync' };
      if (after !== undefined) request.after = after;
      const reply = await this._request(request, ws);
      for (const summary of reply.conversations) {
        listed.add(summary.id);
        this._upsertConversation(summary, true);
      }
      if (!reply.has_more || typeof reply.next_cursor !== 'string') break;
      after = reply.next_cursor;
    }
    // Conversations missing from the list are ones we were removed from while away.
    for (const id of [...this.conversations.keys()]) {
      if (!listed.has(id)) this._dropConversation(id);
    }
    this._emitChange('conversations');
    const jobs = [];
    for (const conv of this.conversations.values()) {
      if (conv.log.loaded) {
        if (conv.last_seq - conv.log.syncedSeq > this._maxGap) {
          // So far behind that the newest page is a better start than every entry since.
          conv.log.reset();
          jobs.push(this._loadNewest(conv.id, ws));
        } else {
          jobs.push(this._fillGap(conv.id, ws));
        }
      } else if (this._loadAll || this._wanted.has(conv.id)) {
        jobs.push(this._loadNewest(conv.id, ws));
      }
      const mine = conv.receipts?.[this.me?.userId];
      if (mine && conv.last_seq > (mine.delivered_seq ?? 0)) this._scheduleDelivered(conv.id, 0);
    }
    await Promise.all(jobs);
  }

  /**
   * Loads a conversation's newest page if it is not loaded yet (the app calls this when the
   * user opens it). Later pages come from loadOlder().
   * @param {string} convId
   */
  async load(convId) {
    this._wanted.add(convId);
    const conv = this.conversations.get(convId);
    if (!conv || conv.log.loaded) return;
    if (this.state !== 'online' && this.state !== 'syncing') return; // the next sync loads it
    await this._loadNewest(convId);
  }

  _loadNewest(convId, ws = this._ws) {
    const running = this._loading.get(convId);
    if (running) return running;
    const job = (async () => {
      const reply = await this._request(
        { type: 'history', conv: convId, limit: this._pageSize }, ws);
      const conv = this.conversations.get(convId);
      if (!conv) return;
      conv.log.applyPage(reply.messages, reply.has_more, 'newest');
      this._afterEntries(conv, reply.messages, false);
      await this._fillGap(convId, ws);
    })().finally(() => this._loading.delete(convId));
    this._loading.set(convId, job);
    return job;
  }

  /**
   * Loads the page before the oldest entry held (infinite scroll). Resolves with whether
   * there is more before.
   * @param {string} convId
   */
  async loadOlder(convId) {
    const conv = this.conversations.get(convId);
    if (!conv) return false;
    if (!conv.log.loaded) {
      await this.load(convId);
      return conv.log.hasMoreBefore;
    }
    if (!conv.log.hasMoreBefore) return false;
    const reply = await this._request({
      type: 'history', conv: convId, before_seq: conv.log.oldestSeq, limit: this._pageSize,
    });
    conv.log.applyPage(reply.messages, reply.has_more, 'before');
    this._afterEntries(conv, reply.messages, false);
    return conv.log.hasMoreBefore;
  }

  /**
   * Fetches every entry after syncedSeq up to the newest known one, page by page. One run per
   * conversation at a time; a run asked for while one is going runs again after it.
   */
  async _fillGap(convId, ws = this._ws) {
    const state = this._fetchingGap.get(convId);
    if (state) {
      state.again = true;
      return state.promise;
    }
    const entry = { again: false, promise: null };
    this._fetchingGap.set(convId, entry);
    entry.promise = (async () => {
      try {
        do {
          entry.again = false;
          for (;;) {
            const conv = this.conversations.get(convId);
            if (!conv || !conv.log.loaded) return;
            const target = Math.max(conv.last_seq, conv.log.highestSeq);
            if (conv.log.syncedSeq >= target) break;
            const before = conv.log.syncedSeq;
            const reply = await this._request({
              type: 'history', conv: convId, after_seq: before, limit: 100,
            }, ws);
            conv.log.applyPage(reply.messages, reply.has_more, 'after');
            this._afterEntries(conv, reply.messages, false);
            if (conv.log.syncedSeq <= before || !reply.has_more && reply.messages.length === 0) {
              break; // nothing more to be had now
            }
          }
        } while (entry.again);
      } finally {
        this._fetchingGap.delete(convId);
      }
    })();
    return entry.promise;
  }

  // ---- applying what arrives -------------------------------------------------------------

  _onLiveEntry(entry) {
    let conv = this.conversations.get(entry.conv);
    if (!conv) {
      // An entry of a conversation we have not heard of yet: the `conversation` event is on
      // its way or was missed; the summary comes with the next sync. Fetch it now.
      this._fetchConversation(entry.conv);
      return;
    }
    const isNew = conv.log.applyLive(entry);
    if (entry.seq > conv.last_seq) conv.last_seq = entry.seq;
    if (!isNew) return;
    this._afterEntries(conv, [entry], true);
    if (conv.log.loaded && entry.seq > conv.log.syncedSeq + 1 && conv.log.syncedSeq < entry.seq) {
      this._fillGap(conv.id).catch(() => {});
    }
  }

  /**
   * Bookkeeping after new entries: summary fields, the outbox, typing, delivered, events.
   * @param {any} conv
   * @param {Entry[]} entries
   * @param {boolean} live
   */
  _afterEntries(conv, entries, live) {
    const me = this.me?.userId;
    let fromOthers = false;
    for (const entry of entries) {
      if (entry.seq > conv.last_seq) conv.last_seq = entry.seq;
      if (entry.ts > (conv.activity ?? 0)) conv.activity = entry.ts;
      if (entry.kind === 'message') {
        const current = conv.log.message(entry.seq) ?? entry;
        if (!conv.last_message || entry.seq >= conv.last_message.seq) conv.last_message = current;
        if (entry.sender === me) {
          this._settleOutbox(conv.id, entry.client_msg_id, entry);
        } else {
          fromOthers = true;
          this._stopTyping(conv.id, entry.sender);
          if (live && entry.seq > (conv.read_seq ?? 0)) conv.unread = (conv.unread ?? 0) + 1;
          if (live) this._events.emit('message', { conv: conv.id, entry: current });
        }
      } else if (entry.kind === 'delete' && conv.last_message?.seq === entry.target_seq) {
        conv.last_message = conv.log.message(entry.target_seq) ??
          { ...conv.last_message, body: null, deleted: true };
      } else if (entry.kind === 'edit' && conv.last_message?.seq === entry.target_seq) {
        conv.last_message = conv.log.message(entry.target_seq) ??
          { ...conv.last_message, body: entry.body, edited_ts: entry.ts };
      } else if (entry.kind === 'rename') {
        conv.title = entry.title;
      }
      if (entry.kind === 'delete' && live && entry.sender !== me) {
        const target = conv.log.message(entry.target_seq);
        if (target && target.sender !== me && entry.target_seq > (conv.read_seq ?? 0)) {
          conv.unread = Math.max(0, (conv.unread ?? 0) - 1);
        }
      }
    }
    if (fromOthers && live) this._scheduleDelivered(conv.id, 250);
    this._recountUnread(conv);
    this._events.emit('entries', { conv: conv.id, entries, live });
    this._emitChange('entries', conv.id);
  }

  /**
   * `unread` from the log when the log covers everything after read_seq (§5.3: undeleted
   * messages of the others above read_seq); otherwise the server's count stands.
   */
  _recountUnread(conv) {
    if (conv.read_seq >= conv.last_seq) {
      conv.unread = 0;
      return;
    }
    const log = conv.log;
    if (!log.loaded || log.oldestSeq > conv.read_seq + 1) return;
    const me = this.me?.userId;
    let n = 0;
    for (const [seq, e] of log.entries) {
      if (seq > conv.read_seq && e.kind === 'message' && e.sender !== me && !e.deleted) n++;
    }
    conv.unread = n;
  }

  /** A `conversation` event, a sync summary, or an HTTP reply with a conversation. */
  _upsertConversation(data, fromSync = false) {
    const me = this.me?.userId;
    if (!data || (me && Array.isArray(data.members) && !data.members.includes(me))) {
      if (data) this._dropConversation(data.id);
      return null;
    }
    let conv = this.conversations.get(data.id);
    if (!conv) {
      conv = { id: data.id, log: new ConversationLog(), last_seq: 0, unread: 0, read_seq: 0,
        receipts: {}, activity: 0 };
      this.conversations.set(data.id, conv);
    }
    const receipts = conv.receipts;
    for (const key of ['type', 'title', 'members', 'roles', 'created_ms']) {
      if (data[key] !== undefined) conv[key] = data[key];
    }
    conv.last_seq = Math.max(conv.last_seq, data.last_seq ?? 0);
    // Read positions only move forward (§8.4): take the highest of what we have seen.
    conv.receipts = mergeReceipts(receipts, data.receipts);
    if (fromSync) {
      conv.unread = data.unread ?? 0;
      conv.read_seq = data.read_seq ?? conv.read_seq;
    }
    const mine = conv.receipts[me];
    if (mine && mine.read_seq > conv.read_seq) conv.read_seq = mine.read_seq;
    if (data.last_message && (!conv.last_message || data.last_message.seq >= conv.last_message.seq)) {
      conv.last_message = conv.log.message(data.last_message.seq) ?? data.last_message;
    }
    conv.activity = Math.max(conv.activity ?? 0, data.created_ms ?? 0, conv.last_message?.ts ?? 0);
    for (const member of conv.members ?? []) this.user(member);
    if (!fromSync) this._presenceForMembers(conv);
    return conv;
  }

  _dropConversation(id) {
    if (!this.conversations.delete(id)) return;
    this._wanted.delete(id);
    this._typing.delete(id);
    this._events.emit('left', { conv: id });
  }

  _onConversation(data) {
    const known = this.conversations.has(data.id);
    const conv = this._upsertConversation(data);
    this._events.emit('conversation', { conv: data.id, removed: !conv });
    this._emitChange('conversations', data.id);
    if (conv && !known && (this._loadAll || this._wanted.has(conv.id)) && this.state === 'online') {
      this._loadNewest(conv.id).catch(() => {});
    }
  }

  async _fetchConversation(id) {
    if (this._fetchingConv?.has(id)) return;
    (this._fetchingConv ??= new Set()).add(id);
    try {
      const { conversation } = await this.auth.request('GET', `/v1/conversations/${enc(id)}`);
      this._onConversation(conversation);
      const conv = this.conversations.get(id);
      if (conv) {
        conv.unread = conversation.unread ?? conv.unread;
        if (conversation.last_message) this._upsertConversation(conversation);
      }
    } catch {
      // The next sync has it.
    } finally {
      this._fetchingConv.delete(id);
    }
  }

  _onReceipt(frame) {
    const conv = this.conversations.get(frame.conv);
    if (!conv) return;
    conv.receipts = mergeReceipts(conv.receipts, {
      [frame.user]: { read_seq: frame.read_seq ?? 0, delivered_seq: frame.delivered_seq ?? 0 },
    });
    if (frame.user === this.me?.userId && frame.read_seq > conv.read_seq) {
      conv.read_seq = frame.read_seq;
      this._recountUnread(conv);
    }
    this._events.emit('receipt', frame);
    this._emitChange('receipts', conv.id);
  }

  // ---- typing ----------------------------------------------------------------------------

  _onTyping(convId, user) {
    let users = this._typing.get(convId);
    if (!users) this._typing.set(convId, (users = new Map()));
    const until = Date.now() + this._typingShowMs;
    users.set(user, until);
    const timer = setTimeout(() => {
      if (users.get(user) === until) this._stopTyping(convId, user);
    }, this._typingShowMs);
    timer.unref?.();
    this._events.emit('typing', { conv: convId, user, typing: true });
    this._emitChange('typing', convId);
  }

  _stopTyping(convId, user) {
    const users = this._typing.get(convId);
    if (!users || !users.delete(user)) return;
    this._events.emit('typing', { conv: convId, user, typing: false });
    this._emitChange('typing', convId);
  }

  /** Users typing in a conversation now. @param {string} convId */
  typingUsers(convId) {
    return [...(this._typing.get(convId)?.keys() ?? [])];
  }

  /**
   * Tells the others that the user is typing; call it on every keystroke, it sends at most
   * one frame per few seconds.
   * @param {string} convId
   */
  typing(convId) {
    const now = Date.now();
    if (now - (this._typingSent.get(convId) ?? 0) < this._typingSendMs) return;
    if (!this._ws || this._ws.readyState !== 1 || this.state !== 'online') return;
    this._typingSent.set(convId, now);
    try {
      // No id: the server sends no reply to a typing without one.
      this._ws.send(JSON.stringify({ type: 'typing', conv: convId }));
    } catch {
      // Typing is best effort.
    }
  }

  /** Forget the throttle after sending, so the next keystroke says "typing" again at once. */
  _typingDone(convId) {
    this._typingSent.delete(convId);
  }

  // ---- receipts --------------------------------------------------------------------------

  _scheduleDelivered(convId, delayMs) {
    if (this._deliveredTimers.has(convId)) return;
    const timer = setTimeout(() => {
      this._deliveredTimers.delete(convId);
      const conv = this.conversations.get(convId);
      if (!conv || this.state !== 'online' && this.state !== 'syncing') return;
      const seq = conv.last_seq;
      const mine = conv.receipts?.[this.me?.userId];
      if (mine && mine.delivered_seq >= seq) return;
      this._request({ type: 'delivered', conv: convId, seq }).catch(() => {});
    }, delayMs);
    timer.unref?.();
    this._deliveredTimers.set(convId, timer);
  }

  /**
   * Marks a conversation read up to `seq` (default: everything held).
   * @param {string} convId
   * @param {number} [seq]
   */
  async markRead(convId, seq) {
    const conv = this.conversations.get(convId);
    if (!conv) return;
    const upTo = seq ?? conv.last_seq;
    const before = conv.read_seq ?? 0;
    if (upTo <= before) {
      // Already read that far (our own send moved it): only the count may lag.
      if (conv.unread) {
        this._recountUnread(conv);
        this._emitChange('receipts', convId);
      }
      return;
    }
    conv.read_seq = upTo;
    this._recountUnread(conv);
    this._emitChange('receipts', convId);
    try {
      const reply = await this._request({ type: 'read', conv: convId, seq: upTo });
      if (reply.read_seq > conv.read_seq) conv.read_seq = reply.read_seq;
    } catch {
      // Offline: unmark, so that the next look marks it again.
      if (conv.read_seq === upTo) {
        conv.read_seq = before;
        this._recountUnread(conv);
      }
    }
  }

  /**
   * How far the other members got with message `seq`: 'read' when all have read it,
   * 'delivered' when all have it, else 'sent'.
   * @param {string} convId
   * @param {number} seq
   * @returns {'sent' | 'delivered' | 'read'}
   */
  receiptStatus(convId, seq) {
    const conv = this.conversations.get(convId);
    const me = this.me?.userId;
    if (!conv) return 'sent';
    const others = (conv.members ?? []).filter((m) => m !== me);
    if (!others.length) return 'sent';
    const r = (m) => conv.receipts?.[m] ?? { read_seq: 0, delivered_seq: 0 };
    if (others.every((m) => r(m).read_seq >= seq)) return 'read';
    if (others.every((m) => Math.max(r(m).delivered_seq, r(m).read_seq) >= seq)) return 'delivered';
    return 'sent';
  }

  // ---- sending (the outbox) --------------------------------------------------------------

  _outboxKey() {
    return `parley.outbox.${this.auth.session?.userId ?? ''}`;
  }

  _loadOutbox() {
    const saved = readJson(this._storage, this._outboxKey());
    this.outbox = Array.isArray(saved)
      ? saved.map((m) => ({ ...m, state: m.state === 'failed' ? 'failed' : 'pending',
        inFlight: false }))
      : [];
  }

  _saveOutbox() {
    writeJson(this._storage, this._outboxKey(), this.outbox.length
      ? this.outbox.map(({ conv, client_msg_id, body, reply_to, ts, state, error }) =>
        ({ conv, client_msg_id, body, reply_to, ts, state, error }))
      : null);
  }

  /**
   * Sends a message. It shows at once as pending (in timeline()), is retried with the same
   * client_msg_id until it is acknowledged (across reconnects and reloads), and becomes a
   * normal message with its seq then.
   * @param {string} convId
   * @param {string} body
   * @param {{replyTo?: number, clientMsgId?: string}} [options]
   * @returns {{clientMsgId: string, done: Promise<Entry>}}
   */
  send(convId, body, { replyTo, clientMsgId } = {}) {
    const item = {
      conv: convId,
      client_msg_id: clientMsgId ?? randomId(),
      body,
      reply_to: replyTo || undefined,
      ts: Date.now(),
      state: 'pending',
      inFlight: false,
    };
    const done = new Promise((resolve, reject) => {
      item.resolve = resolve;
      item.reject = reject;
    });
    done.catch(() => {});
    this.outbox.push(item);
    this._saveOutbox();
    this._typingDone(convId);
    this._emitChange('outbox', convId);
    this._flushOutbox();
    return { clientMsgId: item.client_msg_id, done };
  }

  /** Sends a failed message again (same client_msg_id). @param {string} clientMsgId */
  retry(clientMsgId) {
    const item = this.outbox.find((m) => m.client_msg_id === clientMsgId);
    if (!item) return;
    item.state = 'pending';
    item.error = undefined;
    this._saveOutbox();
    this._emitChange('outbox', item.conv);
    this._flushOutbox();
  }

  /** Gives up on an unsent message. @param {string} clientMsgId */
  discard(clientMsgId) {
    const item = this.outbox.find((m) => m.client_msg_id === clientMsgId);
    if (!item) return;
    this.outbox = this.outbox.filter((m) => m !== item);
    item.reject?.(new ParleyError('invalid_request', 'discarded'));
    this._saveOutbox();
    this._emitChange('outbox', item.conv);
  }

  _flushOutbox() {
    if (this.state !== 'online') return;
    for (const item of this.outbox) {
      if (item.state !== 'pending' || item.inFlight || item.retryTimer) continue;
      this._sendItem(item);
    }
  }

  async _sendItem(item) {
    item.inFlight = true;
    const ws = this._ws;
    try {
      const frame = { type: 'send', conv: item.conv, client_msg_id: item.client_msg_id,
        body: item.body };
      if (item.reply_to) frame.reply_to = item.reply_to;
      const ack = await this._request(frame, ws);
      item.inFlight = false;
      const conv = this.conversations.get(item.conv);
      const entry = { conv: item.conv, seq: ack.seq, id: ack.msg_id, sender: this.me?.userId,
        kind: 'message', ts: ack.ts, client_msg_id: item.client_msg_id, body: item.body };
      if (item.reply_to) entry.reply_to = item.reply_to;
      if (conv) {
        // Our own send moves our read position up to it (§4.7).
        if (ack.seq > conv.read_seq) conv.read_seq = ack.seq;
        const isNew = conv.log.applyLive(entry);
        if (ack.seq > conv.last_seq) conv.last_seq = ack.seq;
        this._afterEntries(conv, isNew ? [entry] : [], true);
        if (conv.log.loaded && ack.seq > conv.log.syncedSeq) this._fillGap(conv.id).catch(() => {});
      }
      this._settleOutbox(item.conv, item.client_msg_id, entry);
    } catch (error) {
      item.inFlight = false;
      if (!this.outbox.includes(item)) return;
      const code = error instanceof ParleyError ? error.code : 'unavailable';
      if (RETRYABLE_SEND.has(code)) {
        // Lost connections resend on reconnect; a busy server gets a moment first.
        if (code === 'rate_limited' || code === 'internal' ||
            (code === 'unavailable' && this._ws === ws && ws?.readyState === 1)) {
          const wait = error.retryAfterMs ?? 1_000 + Math.floor(Math.random() * 1_000);
          item.retryTimer = setTimeout(() => {
            item.retryTimer = null;
            this._flushOutbox();
          }, wait);
          item.retryTimer.unref?.();
        } else if (code === 'timeout' && this._ws === ws) {
          this._flushOutbox();
        }
        return;
      }
      item.state = 'failed';
      item.error = error instanceof Error ? error.message : String(error);
      this._saveOutbox();
      this._emitChange('outbox', item.conv);
    }
  }

  _settleOutbox(convId, clientMsgId, entry) {
    if (!clientMsgId) return;
    const item = this.outbox.find((m) => m.conv === convId && m.client_msg_id === clientMsgId);
    if (!item) return;
    this.outbox = this.outbox.filter((m) => m !== item);
    clearTimeout(item.retryTimer);
    item.resolve?.(entry);
    this._saveOutbox();
    this._emitChange('outbox', convId);
  }

  // ---- other writes ----------------------------------------------------------------------

  /** @param {string} convId @param {number} seq @param {string} body */
  edit(convId, seq, body) {
    return this._write({ type: 'edit', conv: convId, seq, body },
      (ack) => ({ kind: 'edit', target_seq: seq, body, ...ack }));
  }

  /** @param {string} convId @param {number} seq */
  async delete(convId, seq) {
    try {
      return await this._write({ type: 'delete', conv: convId, seq },
        (ack) => ({ kind: 'delete', target_seq: seq, ...ack }));
    } catch (error) {
      if (error instanceof ParleyError && error.code === 'conflict') return null; // already gone
      throw error;
    }
  }

  /**
   * Toggles the user's `emoji` reaction on message `seq`.
   * @param {string} convId @param {number} seq @param {string} emoji
   */
  react(convId, seq, emoji) {
    const conv = this.conversations.get(convId);
    const had = conv?.log.message(seq)?.reactions?.[emoji]?.includes(this.me?.userId) ?? false;
    return this._write({ type: 'react', conv: convId, seq, emoji },
      (ack) => ({ kind: 'reaction', target_seq: seq, emoji,
        added: typeof ack.added === 'boolean' ? ack.added : !had, ...ack }));
  }

  async _write(frame, build) {
    const ack = await this._request(frame);
    const conv = this.conversations.get(frame.conv);
    const { added } = ack;
    const entry = { ...build({ added }), conv: frame.conv, seq: ack.seq, id: ack.msg_id,
      ts: ack.ts, sender: this.me?.userId };
    delete entry.re;
    delete entry.type;
    delete entry.msg_id;
    if (conv) {
      const isNew = conv.log.applyLive(entry);
      if (isNew) this._afterEntries(conv, [entry], true);
      if (conv.log.loaded && ack.seq > conv.log.syncedSeq) this._fillGap(conv.id).catch(() => {});
    }
    return entry;
  }

  // ---- HTTP calls ------------------------------------------------------------------------

  /** @param {string} userId */
  async createDirect(userId) {
    const { conversation } = await this.auth.request('POST', '/v1/conversations',
      { body: { type: 'direct', members: [userId] } });
    return this._afterConversationCall(conversation);
  }

  /** @param {string} title @param {string[]} memberIds */
  async createGroup(title, memberIds) {
    const { conversation } = await this.auth.request('POST', '/v1/conversations',
      { body: { type: 'group', title, members: memberIds } });
    return this._afterConversationCall(conversation);
  }

  /** @param {string} convId @param {string} title */
  async rename(convId, title) {
    const { conversation } = await this.auth.request('PATCH', `/v1/conversations/${enc(convId)}`,
      { body: { title } });
    return this._afterConversationCall(conversation);
  }

  /** @param {string} convId @param {string} userId */
  async addMember(convId, userId) {
    const { conversation } = await this.auth.request('POST',
      `/v1/conversations/${enc(convId)}/members`, { body: { user_id: userId } });
    return this._afterConversationCall(conversation);
  }

  /** @param {string} convId @param {string} userId */
  async removeMember(convId, userId) {
    try {
      await this.auth.request('DELETE', `/v1/conversations/${enc(convId)}/members/${enc(userId)}`);
    } catch (error) {
      // A retried remove finds them gone already (§7.3).
      if (!(error instanceof ParleyError) || error.code !== 'not_found') throw error;
    }
    if (userId === this.me?.userId) {
      this._dropConversation(convId);
      this._emitChange('conversations', convId);
    }
  }

  /** @param {string} convId */
  leave(convId) {
    return this.removeMember(convId, this.me?.userId ?? '');
  }

  // ---- privacy and invitations (§14) -------------------------------------------------------

  /** Who may add this user to groups: 'anyone' | 'contacts' | 'nobody'. */
  async groupAdds() {
    const { group_adds: value } = await this.auth.request('GET', '/v1/settings/privacy');
    return value;
  }

  /** @param {'anyone'|'contacts'|'nobody'} value */
  async setGroupAdds(value) {
    const { group_adds: set } = await this.auth.request('PUT', '/v1/settings/privacy',
      { body: { group_adds: value } });
    return set;
  }

  /** The user's pending group invitations, oldest first. */
  async invitations() {
    const { invitations } = await this.auth.request('GET', '/v1/invitations');
    return invitations;
  }

  /** Joins the group of invitation `id`; resolves to the conversation. @param {string} id */
  async acceptInvitation(id) {
    const { conversation } = await this.auth.request('POST',
      `/v1/invitations/${enc(id)}/accept`, { body: {} });
    return this._afterConversationCall(conversation);
  }

  /** @param {string} id */
  async declineInvitation(id) {
    await this.auth.request('DELETE', `/v1/invitations/${enc(id)}`);
  }

  _afterConversationCall(conversation) {
    const conv = this._upsertConversation(conversation);
    this._emitChange('conversations', conversation.id);
    return conv;
  }

  /**
   * Full-text search over the user's conversations (§4.15).
   * @param {string} q
   * @param {{limit?: number, before?: number}} [options]
   */
  search(q, { limit, before } = {}) {
    return this.auth.request('GET', '/v1/search', { query: { q, limit, before } });
  }

  // ---- notifications (§12) -----------------------------------------------------------------

  /** The server's VAPID public key (base64url), for `pushManager.subscribe()`. */
  async pushPublicKey() {
    const { public_key: key } = await this.auth.request('GET', '/v1/push/vapid-public-key',
      { auth: false });
    return key;
  }

  /**
   * Registers a Web Push subscription for this user.
   * @param {{endpoint: string, keys: {p256dh: string, auth: string}}} subscription
   *   what `PushSubscription.toJSON()` gives
   */
  addPushSubscription(subscription) {
    const { endpoint, keys, expirationTime } = subscription;
    return this.auth.request('POST', '/v1/push/subscriptions',
      { body: { endpoint, keys, expirationTime: expirationTime ?? null } });
  }

  /** @param {string} endpoint */
  async removePushSubscription(endpoint) {
    try {
      await this.auth.request('DELETE', '/v1/push/subscriptions', { query: { endpoint } });
    } catch (error) {
      // Already gone (the push service refused it, or a retried call).
      if (!(error instanceof ParleyError) || error.code !== 'not_found') throw error;
    }
  }

  /** `{private_previews, mentions_when_muted, muted_conversations}` */
  notificationSettings() {
    return this.auth.request('GET', '/v1/notifications/settings');
  }

  /** @param {{private_previews?: boolean, mentions_when_muted?: boolean}} patch */
  setNotificationSettings(patch) {
    return this.auth.request('PUT', '/v1/notifications/settings', { body: patch });
  }

  /** @param {string} convId @param {boolean} muted */
  setMuted(convId, muted) {
    return this.auth.request('PUT', `/v1/conversations/${enc(convId)}/mute`, { body: { muted } });
  }

  /**
   * A user's profile from the cache; unknown ones are fetched and announced with 'users'.
   * @param {string} userId
   */
  user(userId) {
    const known = this.users.get(userId);
    if (known) return known;
    if (!this._userFetches.has(userId) && this.auth.session) {
      const job = this.auth.request('GET', `/v1/users/${enc(userId)}`)
        .then((user) => {
          this.users.set(userId, user);
          this._events.emit('users', user);
          this._emitChange('users');
          return user;
        })
        .catch(() => null)
        .finally(() => setTimeout(() => this._userFetches.delete(userId), 0));
      this._userFetches.set(userId, job);
    }
    return null;
  }

  /** @param {string} userId */
  async fetchUser(userId) {
    return this.user(userId) ?? (await this._userFetches.get(userId)) ?? null;
  }

  /**
   * Looks a user up by username; null when there is none.
   * @param {string} username
   */
  async findUser(username) {
    try {
      const user = await this.auth.request('GET', `/v1/users/by-username/${enc(username)}`);
      this.users.set(user.user_id, user);
      return user;
    } catch (error) {
      if (error instanceof ParleyError && error.code === 'not_found') return null;
      throw error;
    }
  }

  // ---- views -----------------------------------------------------------------------------

  /** Conversations, most recently active first. */
  listConversations() {
    return [...this.conversations.values()].sort((a, b) =>
      (b.activity ?? 0) - (a.activity ?? 0) || (a.id < b.id ? -1 : 1));
  }

  /**
   * What to show in a conversation, ascending: messages (current state, with `status` for
   * the user's own), membership and title changes, then the user's unsent messages with
   * `pending: true` (or `failed: true`).
   * @param {string} convId
   */
  timeline(convId) {
    const conv = this.conversations.get(convId);
    if (!conv) return [];
    const me = this.me?.userId;
    const items = conv.log.visible().map((e) => {
      if (e.kind !== 'message') return e;
      const item = { ...e };
      if (e.sender === me) item.status = this.receiptStatus(convId, e.seq);
      if (e.reply_to) item.replied = conv.log.message(e.reply_to) ?? null;
      return item;
    });
    for (const m of this.outbox) {
      if (m.conv !== convId) continue;
      items.push({ conv: convId, seq: 0, id: m.client_msg_id, sender: me, kind: 'message',
        ts: m.ts, body: m.body, client_msg_id: m.client_msg_id, reply_to: m.reply_to,
        replied: m.reply_to ? conv.log.message(m.reply_to) ?? null : undefined,
        pending: m.state === 'pending', failed: m.state === 'failed', error: m.error });
    }
    return items;
  }

  _setState(state) {
    if (this.state === state && state !== 'offline') return;
    this.state = state;
    this._events.emit('state', { state, retryInMs: this.retryInMs });
    this._emitChange('state');
  }

  _emitChange(what, conv) {
    this._events.emit('change', { what, conv });
  }
}

function mergeReceipts(current = {}, incoming = {}) {
  const out = { ...current };
  for (const [user, r] of Object.entries(incoming ?? {})) {
    const had = out[user] ?? { read_seq: 0, delivered_seq: 0 };
    out[user] = {
      read_seq: Math.max(had.read_seq ?? 0, r.read_seq ?? 0),
      delivered_seq: Math.max(had.delivered_seq ?? 0, r.delivered_seq ?? 0),
    };
  }
  return out;
}

function stripType(frame) {
  const { type: _type, ...entry } = frame;
  return entry;
}

function enc(s) {
  return encodeURIComponent(s);
}

function randomId() {
  if (globalThis.crypto?.randomUUID) return globalThis.crypto.randomUUID();
  return `${Date.now().toString(16)}-${Math.random().toString(16).slice(2)}`;
}

function defaultDeviceName() {
  const ua = globalThis.navigator?.userAgent;
  if (!ua) return 'Parley client';
  const browser = /Firefox\//.test(ua) ? 'Firefox' : /Edg\//.test(ua) ? 'Edge'
    : /Chrome\//.test(ua) ? 'Chrome' : /Safari\//.test(ua) ? 'Safari' : 'Browser';
  const os = /Android/.test(ua) ? 'Android' : /iPhone|iPad/.test(ua) ? 'iOS'
    : /Mac OS X/.test(ua) ? 'macOS' : /Windows/.test(ua) ? 'Windows'
      : /Linux/.test(ua) ? 'Linux' : '';
  return os ? `${browser} on ${os}` : browser;
}
