// The local log's rules (docs/PROTOCOL.md §8.4), without a server.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { ConversationLog } from '../src/index.js';

const msg = (seq, body, extra = {}) =>
  ({ conv: 'c', seq, id: `m${seq}`, sender: 'u_b', kind: 'message', ts: seq * 10, body, ...extra });
const edit = (seq, target, body) =>
  ({ conv: 'c', seq, id: `m${seq}`, sender: 'u_b', kind: 'edit', ts: seq * 10, target_seq: target, body });
const del = (seq, target) =>
  ({ conv: 'c', seq, id: `m${seq}`, sender: 'u_b', kind: 'delete', ts: seq * 10, target_seq: target });
const react = (seq, target, emoji, sender, added) =>
  ({ conv: 'c', seq, id: `m${seq}`, sender, kind: 'reaction', ts: seq * 10, target_seq: target, emoji, added });

test('an entry seen live and again in a page is applied once', () => {
  const log = new ConversationLog();
  log.applyPage([msg(1, 'a')], false, 'newest');
  assert.equal(log.applyLive(msg(2, 'b')), true);
  assert.equal(log.applyLive(msg(2, 'b')), false);
  log.applyPage([msg(2, 'b'), msg(3, 'c')], false, 'after');
  assert.deepEqual(log.visible().map((e) => e.body), ['a', 'b', 'c']);
  assert.equal(log.syncedSeq, 3);
});

test('syncedSeq stops at a gap and moves once it is filled', () => {
  const log = new ConversationLog();
  log.applyPage([msg(1, 'a'), msg(2, 'b')], false, 'newest');
  log.applyLive(msg(5, 'e'));
  assert.equal(log.syncedSeq, 2);
  assert.equal(log.highestSeq, 5);
  log.applyPage([msg(3, 'c'), msg(4, 'd'), msg(5, 'e')], false, 'after');
  assert.equal(log.syncedSeq, 5);
});

test('a page copy that already shows an edit is not edited twice, later edits still apply', () => {
  const log = new ConversationLog();
  log.applyPage([msg(1, 'v2', { edited_ts: 20 }), edit(2, 1, 'v2')], false, 'newest');
  log.applyLive(edit(3, 1, 'v3'));
  assert.equal(log.message(1).body, 'v3');
  assert.equal(log.message(1).edited_ts, 30);
});

test('an edit that arrives before its message is applied when the message comes', () => {
  const log = new ConversationLog();
  log.applyPage([msg(5, 'x')], true, 'newest');
  log.applyLive(edit(6, 4, 'edited'));
  log.applyPage([msg(4, 'original')], true, 'before');
  assert.equal(log.message(4).body, 'edited');
  assert.equal(log.oldestSeq, 4);
});

test('reactions are set, not toggled, and an older entry never overrides a newer one', () => {
  const log = new ConversationLog();
  log.applyPage([msg(1, 'hi')], false, 'newest');
  log.applyLive(react(3, 1, '👍', 'u_a', false)); // arrives first (after a gap)
  log.applyPage([react(2, 1, '👍', 'u_a', true), react(3, 1, '👍', 'u_a', false)], false, 'after');
  assert.deepEqual(log.message(1).reactions, {});
  log.applyLive(react(4, 1, '👍', 'u_a', true));
  log.applyLive(react(4, 1, '👍', 'u_a', true));
  log.applyLive(react(5, 1, '🎉', 'u_c', true));
  assert.deepEqual(log.message(1).reactions, { '👍': ['u_a'], '🎉': ['u_c'] });
});

test('a delete erases the text of the message and of its edits', () => {
  const log = new ConversationLog();
  log.applyPage([msg(1, 'secret'), edit(2, 1, 'more secret')], false, 'newest');
  log.applyLive(del(3, 1));
  assert.equal(log.message(1).body, null);
  assert.equal(log.message(1).deleted, true);
  assert.equal(log.entries.get(2).body, null);
  log.applyLive(edit(4, 1, 'too late'));
  assert.equal(log.message(1).body, null);
});

test('older pages extend the window back and report has_more', () => {
  const log = new ConversationLog();
  log.applyPage([msg(3, 'c'), msg(4, 'd')], true, 'newest');
  assert.equal(log.oldestSeq, 3);
  assert.equal(log.hasMoreBefore, true);
  log.applyPage([msg(1, 'a'), msg(2, 'b')], false, 'before');
  assert.equal(log.oldestSeq, 1);
  assert.equal(log.hasMoreBefore, false);
  assert.deepEqual(log.visible().map((e) => e.seq), [1, 2, 3, 4]);
});

test('an empty conversation loads as synced at zero', () => {
  const log = new ConversationLog();
  log.applyPage([], false, 'newest');
  assert.equal(log.loaded, true);
  assert.equal(log.syncedSeq, 0);
  log.applyLive(msg(1, 'first'));
  assert.equal(log.syncedSeq, 1);
});
