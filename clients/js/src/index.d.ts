// Types for @parley/client. The wire shapes follow docs/PROTOCOL.md §5.

/** The Web Storage interface: `localStorage` in a browser, `memoryStorage()` anywhere. */
export interface StorageLike {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

export function memoryStorage(): StorageLike;

export interface ClientOptions {
  /** The server, e.g. "http://localhost:8080". Default: the page's origin. */
  baseUrl?: string;
  /** A WebSocket class. Default: the global one, else the `ws` package (Node 20). */
  WebSocket?: any;
  /** Default: the global fetch. */
  fetch?: typeof fetch;
  /** Where the session and unsent messages are kept. Default: memory. */
  storage?: StorageLike;
  /** Runs fn holding a lock by name; default: Web Locks in a browser, a queue elsewhere. */
  lock?: (name: string, fn: () => Promise<any>) => Promise<any>;
  /** Shown in the server's device list. Default: derived from the user agent. */
  deviceName?: string;
  /** Reconnect backoff: full jitter between 0 and min(capMs, baseMs * 2^attempt). */
  backoff?: { baseMs?: number; capMs?: number; slowBaseMs?: number };
  /** Replaces Math.random for the jitter (tests). */
  random?: () => number;
  /** Per request (HTTP and WebSocket). Default 15000. */
  requestTimeoutMs?: number;
  /** How long a ping may wait for its pong before the connection counts as dead. Default 10000. */
  pongTimeoutMs?: number;
  /** History page size. Default 50. */
  pageSize?: number;
  /** Past this many missing entries a conversation restarts from its newest page. Default 1000. */
  maxGapEntries?: number;
  /** Load every conversation's newest page at sync instead of on load(). Default false. */
  loadAll?: boolean;
  typingShowMs?: number;
  typingSendIntervalMs?: number;
  /**
   * After each (re)connect and sync, presence is queried for the members of direct chats and
   * of groups of at most this many members (the server's `presence_max_group_size`, default
   * 100); members of larger groups are left to subscribePresence(). 0 queries none of the groups.
   */
  presenceGroupLimit?: number;
}

export type ConnectionState =
  | 'signed_out'
  | 'connecting'
  | 'syncing'
  | 'online'
  | 'offline'
  | 'stopped';

export interface Session {
  userId: string;
  deviceId: string;
  accessToken: string;
  refreshToken: string;
  /** ms since the epoch, local clock */
  expiresAt: number;
}

export interface User {
  user_id: string;
  username: string;
  display_name: string;
}

export type Reactions = Record<string, string[]>;

/** A log entry (§5.1). */
export interface Entry {
  conv: string;
  seq: number;
  id: string;
  sender: string;
  kind: 'message' | 'edit' | 'delete' | 'reaction' | 'member' | 'rename' | string;
  ts: number;
  client_msg_id?: string;
  body?: string | null;
  reply_to?: number;
  edited_ts?: number;
  deleted?: boolean;
  reactions?: Reactions;
  target_seq?: number;
  emoji?: string;
  added?: boolean;
  user?: string;
  action?: 'created' | 'added' | 'removed' | 'left' | 'role' | string;
  role?: string;
  title?: string;
}

/** What timeline() returns: an entry as shown, or one of the user's unsent messages. */
export interface TimelineItem extends Entry {
  /** For the user's own messages: how far the others got. */
  status?: 'sent' | 'delivered' | 'read';
  /** The message this one replies to, when held (null: not loaded). */
  replied?: Entry | null;
  /** Unsent, being retried. seq is 0. */
  pending?: boolean;
  /** Unsent, refused by the server; retry() or discard(). */
  failed?: boolean;
  error?: string;
}

export interface Receipt {
  read_seq: number;
  delivered_seq: number;
}

export declare class ConversationLog {
  entries: Map<number, Entry>;
  oldestSeq: number;
  syncedSeq: number;
  hasMoreBefore: boolean;
  loaded: boolean;
  version: number;
  readonly highestSeq: number;
  reset(): void;
  applyLive(entry: Entry): boolean;
  applyPage(entries: Entry[], hasMore: boolean, direction: 'newest' | 'after' | 'before'): void;
  visible(): Entry[];
  message(seq: number): Entry | undefined;
}

/** A conversation as the client holds it: the summary fields (§5.3) and the local log. */
export interface Conversation {
  id: string;
  type: 'direct' | 'group';
  title: string;
  members: string[];
  roles: Record<string, 'owner' | 'admin' | 'member'>;
  receipts: Record<string, Receipt>;
  last_seq: number;
  created_ms: number;
  read_seq: number;
  unread: number;
  last_message?: Entry;
  /** ts of the newest activity seen (for ordering). */
  activity: number;
  log: ConversationLog;
}

export interface SearchResult {
  results: { message: Entry; cursor: number }[];
  next_before?: number;
}

export interface PresenceState {
  status: 'online' | 'offline';
  /** ms since the epoch; null for a user never seen */
  last_seen: number | null;
  /** present (true) only when the user set away */
  away?: true;
  text?: string;
}

export interface PresenceEvent extends PresenceState {
  user: string;
}

export interface PresenceAnswer extends PresenceState {
  user_id: string;
}

export interface ClientEvents {
  state: { state: ConnectionState; retryInMs: number };
  session: Session | null;
  session_ended: { code: 'session_ended'; message: string };
  /** A new message from someone else arrived live. */
  message: { conv: string; entry: Entry };
  entries: { conv: string; entries: Entry[]; live: boolean };
  conversation: { conv: string; removed: boolean };
  left: { conv: string };
  receipt: { conv: string; user: string; read_seq: number; delivered_seq: number };
  typing: { conv: string; user: string; typing: boolean };
  /**
   * A user's whole presence (§13.2), from a live event, the query made after each (re)connect,
   * queryPresence() or subscribePresence(): all announced in the event's shape, only when it
   * changes what `presence` held.
   */
  presence: { type: 'presence' } & PresenceEvent;
  users: User;
  /** A group add that the user's group_adds setting turned into an invitation (§14). */
  invitation: Invitation;
  /** Anything changed: a cue for views to re-render. */
  change: { what: string; conv?: string };
}

export declare class ParleyError extends Error {
  constructor(code: string, message: string, extra?: { status?: number; retryAfterMs?: number; cause?: unknown });
  code: string;
  status?: number;
  retryAfterMs?: number;
  readonly retryable: boolean;
  static fromBody(body: unknown, status?: number): ParleyError;
}

export declare class Backoff {
  constructor(options?: { baseMs?: number; capMs?: number; slowBaseMs?: number; random?: () => number });
  attempt: number;
  next(): number;
  slowDown(): void;
  reset(): void;
}

export interface NotificationSettings {
  private_previews: boolean;
  mentions_when_muted: boolean;
  muted_conversations: string[];
}

export declare class ParleyClient {
  constructor(options?: ClientOptions);
  readonly baseUrl: string;
  readonly me: { userId: string; deviceId: string } | null;
  state: ConnectionState;
  retryInMs: number;
  heartbeatMs?: number;
  conversations: Map<string, Conversation>;
  users: Map<string, User>;
  /** user id -> presence, kept current from events, queries and subscriptions (newest `last_seen` wins) */
  presence: Map<string, PresenceState>;
  /** True when the server holds the presence subscriptions on the current connection (or there are none); 'change' says when it turns true after a reconnect. */
  readonly presenceSubscribed: boolean;

  on<K extends keyof ClientEvents>(name: K, listener: (detail: ClientEvents[K]) => void): () => void;
  once<K extends keyof ClientEvents>(name: K, predicate?: (detail: ClientEvents[K]) => boolean): Promise<ClientEvents[K]>;

  register(p: { username: string; password: string; displayName?: string }): Promise<User>;
  login(p: { username: string; password: string }): Promise<Session>;
  logout(): Promise<void>;

  start(): void;
  stop(): void;
  reconnectNow(): void;
  networkLost(): void;
  whenOnline(): Promise<void>;
  /** A raw request on the current WebSocket; resolves with the reply. */
  request(frame: Record<string, unknown>): Promise<any>;

  load(convId: string): Promise<void>;
  loadOlder(convId: string): Promise<boolean>;
  listConversations(): Conversation[];
  timeline(convId: string): TimelineItem[];
  typingUsers(convId: string): string[];
  receiptStatus(convId: string, seq: number): 'sent' | 'delivered' | 'read';

  send(convId: string, body: string, options?: { replyTo?: number; clientMsgId?: string }): {
    clientMsgId: string;
    done: Promise<Entry>;
  };
  retry(clientMsgId: string): void;
  discard(clientMsgId: string): void;
  edit(convId: string, seq: number, body: string): Promise<Entry>;
  delete(convId: string, seq: number): Promise<Entry | null>;
  react(convId: string, seq: number, emoji: string): Promise<Entry>;
  typing(convId: string): void;
  markRead(convId: string, seq?: number): Promise<void>;

  createDirect(userId: string): Promise<Conversation | null>;
  createGroup(title: string, memberIds: string[]): Promise<Conversation | null>;
  rename(convId: string, title: string): Promise<Conversation | null>;
  addMember(convId: string, userId: string): Promise<Conversation | null>;
  removeMember(convId: string, userId: string): Promise<void>;
  leave(convId: string): Promise<void>;
  search(q: string, options?: { limit?: number; before?: number }): Promise<SearchResult>;

  /** The server's VAPID public key, base64url (§12.4). */
  pushPublicKey(): Promise<string>;
  /** Registers what `PushSubscription.toJSON()` gives (§12.4). */
  addPushSubscription(subscription: {
    endpoint: string; expirationTime?: number | null; keys: { p256dh: string; auth: string };
  }): Promise<{ subscription: { endpoint: string } }>;
  /** Removes one of this user's push subscriptions; one already gone is not an error. */
  removePushSubscription(endpoint: string): Promise<void>;
  notificationSettings(): Promise<NotificationSettings>;
  setNotificationSettings(patch: { private_previews?: boolean; mentions_when_muted?: boolean }): Promise<NotificationSettings>;
  setMuted(convId: string, muted: boolean): Promise<{ conv: string; muted: boolean }>;

  /** From the cache; an unknown user is fetched and announced with 'users'. */
  user(userId: string): User | null;
  fetchUser(userId: string): Promise<User | null>;
  findUser(username: string): Promise<User | null>;

  /** POST /v1/presence/query in chunks of 200; applied to `presence` and announced as 'presence'. Unseeable users are left out. */
  queryPresence(userIds: string[]): Promise<PresenceAnswer[]>;
  /** Sets this user's status (all devices); no text clears it. */
  setPresence(status: 'online' | 'away', text?: string): Promise<void>;
  /** Replaces this client's presence subscriptions (first 200; [] ends them); kept across reconnects. */
  subscribePresence(userIds: string[]): Promise<PresenceAnswer[]>;

  /** Who may add this user to groups without an invitation (§14). */
  groupAdds(): Promise<GroupAdds>;
  setGroupAdds(value: GroupAdds): Promise<GroupAdds>;
  /** Pending group invitations, oldest first. */
  invitations(): Promise<Invitation[]>;
  acceptInvitation(id: string): Promise<Conversation>;
  declineInvitation(id: string): Promise<void>;
}

export type GroupAdds = 'anyone' | 'contacts' | 'nobody';

export interface Invitation {
  id: string;
  conv: string;
  title: string;
  inviter: string;
  created_ms: number;
}
