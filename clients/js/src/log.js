/**
 * One conversation's local copy of the log, applied idempotently (docs/PROTOCOL.md §8.4):
 * entries are keyed by seq, so an entry seen twice (live and in a page) changes nothing, and
 * edits, deletes and reactions land on their target whether it arrives before or after them.
 *
 * A message keeps `baseSeq`: its state already reflects every entry with a seq up to it. A
 * live message starts at its own seq; a copy from a history page reflects at least every
 * entry up to the page's highest seq, because the page was read after those were committed.
 */

/**
 * @typedef {object} Entry  a log entry as the server sends it (§5.1)
 * @property {string} conv
 * @property {number} seq
 * @property {string} id
 * @property {string} sender
 * @property {string} kind  message | edit | delete | reaction | member | rename
 * @property {number} ts
 * @property {string} [client_msg_id]
 * @property {string | null} [body]
 * @property {number} [reply_to]
 * @property {number} [edited_ts]
 * @property {boolean} [deleted]
 * @property {Record<string, string[]>} [reactions]
 * @property {number} [target_seq]
 * @property {string} [emoji]
 * @property {boolean} [added]
 * @property {string} [user]
 * @property {string} [action]
 * @property {string} [role]
 * @property {string} [title]
 */

const CHILD_KINDS = new Set(['edit', 'delete', 'reaction']);

export class ConversationLog {
  constructor() {
    /** @type {Map<number, any>} every entry held, by seq; messages carry their current state */
    this.entries = new Map();
    /** @type {Map<number, Set<number>>} target seq -> seqs of edits, deletes, reactions on it */
    this.children = new Map();
    /** Lowest seq of the contiguous window held (0 = nothing loaded yet). */
    this.oldestSeq = 0;
    /** Highest seq up to which every entry from oldestSeq on is held. */
    this.syncedSeq = 0;
    /** Whether older entries exist before oldestSeq. */
    this.hasMoreBefore = false;
    /** Whether a window has been loaded (the newest page, at least). */
    this.loaded = false;
    /** Bumped on every change, for views that cache. */
    this.version = 0;
  }

  /** Drops everything, e.g. when the gap to fill has grown too large to be worth fetching. */
  reset() {
    this.entries.clear();
    this.children.clear();
    this.oldestSeq = 0;
    this.syncedSeq = 0;
    this.hasMoreBefore = false;
    this.loaded = false;
    this.version++;
  }

  /** Highest seq held at all (live entries can run ahead of syncedSeq). */
  get highestSeq() {
    let max = 0;
    for (const seq of this.entries.keys()) if (seq > max) max = seq;
    return max;
  }

  /**
   * A live entry (event or own ack). Returns whether it was new.
   * @param {Entry} entry
   */
  applyLive(entry) {
    if (this.entries.has(entry.seq)) return false;
    this._store(entry, entry.seq);
    this._advance();
    this.version++;
    return true;
  }

  /**
   * A history page, ascending. `direction` says where it sits: 'newest' (a first load),
   * 'after' (filling a gap forward) or 'before' (scrolling back).
   * @param {Entry[]} entries
   * @param {boolean} hasMore
   * @param {'newest' | 'after' | 'before'} direction
   */
  applyPage(entries, hasMore, direction) {
    const maxSeq = entries.length ? entries[entries.length - 1].seq : 0;
    for (const entry of entries) this._store(entry, maxSeq, true);
    if (direction === 'newest' || direction === 'before') {
      if (entries.length) {
        if (!this.loaded || entries[0].seq < this.oldestSeq) this.oldestSeq = entries[0].seq;
      } else if (!this.loaded) {
        this.oldestSeq = 1;
      }
      this.hasMoreBefore = hasMore;
      if (!this.loaded) {
        this.syncedSeq = Math.max(0, this.oldestSeq - 1);
        this.loaded = true;
      }
    }
    this._advance();
    this.version++;
  }

  _advance() {
    if (!this.loaded) return;
    while (this.entries.has(this.syncedSeq + 1)) this.syncedSeq++;
  }

  /**
   * @param {Entry} raw
   * @param {number} baseSeq what this copy's state reflects (for messages)
   * @param {boolean} [fromPage]
   */
  _store(raw, baseSeq, fromPage = false) {
    const held = this.entries.get(raw.seq);
    if (raw.kind === 'message') {
      // A page's copy is at least as new as any held one; a live copy never is newer.
      if (held && !fromPage) return;
      const message = { ...raw, reactions: cloneReactions(raw.reactions), baseSeq,
        editSeq: 0, reactionSeqs: {} };
      if (held && held.baseSeq > baseSeq) {
        // The held copy already reflects more (e.g. built from entries newer than the page).
        return;
      }
      this.entries.set(raw.seq, message);
      // Entries held that this copy may not reflect yet: apply them again, in seq order.
      const kids = this.children.get(raw.seq);
      if (kids) {
        for (const seq of [...kids].sort((a, b) => a - b)) {
          if (seq > baseSeq) this._applyChild(this.entries.get(seq), message);
        }
      }
      return;
    }
    if (held) {
      // The same entry again. A page's copy of an edit may have lost its text to a delete.
      if (fromPage && raw.kind === 'edit' && raw.body === null) held.body = null;
      return;
    }
    const entry = { ...raw };
    this.entries.set(raw.seq, entry);
    if (CHILD_KINDS.has(entry.kind) && typeof entry.target_seq === 'number') {
      let kids = this.children.get(entry.target_seq);
      if (!kids) this.children.set(entry.target_seq, (kids = new Set()));
      kids.add(entry.seq);
      const target = this.entries.get(entry.target_seq);
      if (target && target.kind === 'message' && entry.seq > target.baseSeq) {
        this._applyChild(entry, target);
      }
    }
  }

  /** @param {any} child @param {any} message */
  _applyChild(child, message) {
    switch (child.kind) {
      case 'edit':
        if (message.deleted || child.body === null || child.body === undefined) return;
        if (child.seq <= message.editSeq) return;
        message.body = child.body;
        message.edited_ts = child.ts;
        message.editSeq = child.seq;
        return;
      case 'delete':
        message.deleted = true;
        message.body = null;
        message.reactions = {};
        for (const seq of this.children.get(message.seq) ?? []) {
          const kid = this.entries.get(seq);
          if (kid && kid.kind === 'edit') kid.body = null;
        }
        return;
      case 'reaction': {
        if (message.deleted) return;
        const key = `${child.emoji}\u0000${child.sender}`;
        if (child.seq <= (message.reactionSeqs[key] ?? 0)) return;
        message.reactionSeqs[key] = child.seq;
        const users = message.reactions[child.emoji] ?? [];
        const has = users.includes(child.sender);
        if (child.added && !has) message.reactions[child.emoji] = [...users, child.sender];
        if (!child.added && has) {
          const rest = users.filter((u) => u !== child.sender);
          if (rest.length) message.reactions[child.emoji] = rest;
          else delete message.reactions[child.emoji];
        }
        return;
      }
      default:
    }
  }

  /**
   * The entries worth showing, ascending: messages in their current state, and membership
   * and title changes. Only the loaded window (from oldestSeq), plus live entries past it.
   */
  visible() {
    const out = [];
    const seqs = [...this.entries.keys()].filter((s) => s >= this.oldestSeq).sort((a, b) => a - b);
    for (const seq of seqs) {
      const e = this.entries.get(seq);
      if (e.kind === 'message' || e.kind === 'member' || e.kind === 'rename') out.push(e);
    }
    return out;
  }

  /** @param {number} seq */
  message(seq) {
    const e = this.entries.get(seq);
    return e && e.kind === 'message' ? e : undefined;
  }
}

/** @param {Record<string, string[]> | undefined} reactions */
function cloneReactions(reactions) {
  const out = {};
  if (reactions) for (const [emoji, users] of Object.entries(reactions)) out[emoji] = [...users];
  return out;
}
