// The client library against a real parleyd: sessions, requests, events, and reconnects
// (including a server restart in the middle of a conversation) that lose nothing and
// duplicate nothing.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { ParleyClient, ParleyError } from '../src/index.js';
import { startParleyd, waitFor } from './support/parleyd.js';

const PASSWORD = 'correct horse battery';
let counter = 0;

/** A registered, logged-in, started client with a fresh username. */
async function user(server, name, options = {}) {
  const username = `${name}${++counter}`;
  const client = new ParleyClient({
    baseUrl: server.url,
    backoff: { baseMs: 50, capMs: 400 },
    loadAll: true,
    ...options,
  });
  await client.register({ username, password: PASSWORD, displayName: name });
  await client.login({ username, password: PASSWORD });
  client.start();
  await client.whenOnline();
  client.username = username;
  return client;
}

async function directChat(a, b) {
  const peer = await a.findUser(b.username);
  const conv = await a.createDirect(peer.user_id);
  await waitFor([b], () => b.conversations.get(conv.id)?.log.loaded, 'bob to see the chat');
  await a.load(conv.id);
  return conv.id;
}

const bodies = (client, conv) =>
  client.timeline(conv).filter((e) => e.kind === 'message').map((e) => e.body);

function assertLogIsWhole(client, conv) {
  const items = client.timeline(conv).filter((e) => e.kind === 'message');
  assert.equal(items.filter((e) => e.pending || e.failed).length, 0, 'nothing left unsent');
  const seqs = items.map((e) => e.seq);
  assert.equal(new Set(seqs).size, seqs.length, 'no seq twice');
  const ids = items.map((e) => e.client_msg_id).filter(Boolean);
  assert.equal(new Set(ids).size, ids.length, 'no client_msg_id twice');
  const log = client.conversations.get(conv).log;
  assert.equal(log.syncedSeq, client.conversations.get(conv).last_seq, 'every entry held');
}

describe('ParleyClient against parleyd', () => {
  let server;
  const clients = [];
  const track = (c) => (clients.push(c), c);

  before(async () => {
    server = await startParleyd();
  });
  after(async () => {
    for (const c of clients) c.stop();
    await server?.dispose();
  });

  test('registers, logs in and reaches online over the ws package in Node', async () => {
    const alice = track(await user(server, 'alice'));
    assert.equal(alice.state, 'online');
    assert.match(alice.me.userId, /^u_/);
    assert.equal(typeof alice.heartbeatMs, 'number');
  });

  test('a bad password is an unauthorized ParleyError', async () => {
    const alice = track(await user(server, 'alice'));
    const other = new ParleyClient({ baseUrl: server.url });
    await assert.rejects(other.login({ username: alice.username, password: 'wrong password' }),
      (e) => e instanceof ParleyError && e.code === 'unauthorized' && e.status === 401);
  });

  test('finds users by username and says null for unknown ones', async () => {
    const alice = track(await user(server, 'alice'));
    const bob = track(await user(server, 'bob'));
    const found = await alice.findUser(bob.username.toUpperCase());
    assert.equal(found.user_id, bob.me.userId);
    assert.equal(found.display_name, 'bob');
    assert.equal(await alice.findUser('nobody-here'), null);
  });

  test('messages go both ways live, with acks, unread counts and read receipts', async () => {
    const alice = track(await user(server, 'alice'));
    const bob = track(await user(server, 'bob'));
    const conv = await directChat(alice, bob);

    const arrived = bob.once('message', (m) => m.conv === conv);
    const sent = alice.send(conv, 'hello bob');
    assert.deepEqual(bodies(alice, conv), ['hello bob'], 'shown at once');
    assert.equal(alice.timeline(conv).at(-1).pending, true);
    const acked = await sent.done;
    assert.ok(acked.seq > 1);
    const { entry } = await arrived;
    assert.equal(entry.body, 'hello bob');
    assert.equal(entry.client_msg_id, sent.clientMsgId);
    assert.equal(bob.conversations.get(conv).unread, 1);

    await waitFor([alice], () => alice.receiptStatus(conv, acked.seq) === 'delivered', 'delivered');
    await bob.markRead(conv);
    assert.equal(bob.conversations.get(conv).unread, 0);
    await waitFor([alice], () => alice.receiptStatus(conv, acked.seq) === 'read', 'read receipt');
    assert.equal(alice.timeline(conv).at(-1).status, 'read');

    await (bob.send(conv, 'hi alice', { replyTo: acked.seq })).done;
    await waitFor([alice], () => bodies(alice, conv).includes('hi alice'), 'the reply');
    assert.equal(alice.timeline(conv).at(-1).replied.body, 'hello bob');
  });

  test('concurrent requests get their own replies', async () => {
    const alice = track(await user(server, 'alice'));
    const bob = track(await user(server, 'bob'));
    const conv = await directChat(alice, bob);
    const sends = Array.from({ length: 25 }, (_, i) => alice.send(conv, `m${i}`));
    const [acks, pages] = await Promise.all([
      Promise.all(sends.map((s) => s.done)),
      Promise.all([1, 2, 3].map(() => alice.request({ type: 'history', conv, limit: 1 }))),
    ]);
    assert.deepEqual(acks.map((a) => a.body), sends.map((_, i) => `m${i}`));
    assert.equal(new Set(acks.map((a) => a.seq)).size, 25);
    for (const page of pages) assert.equal(page.type, 'history');
    await waitFor([bob], () => bodies(bob, conv).length === 25, 'all 25 at bob');
    assertLogIsWhole(bob, conv);
  });

  test('a send whose ack was lost is resent with the same client_msg_id and stored once', async () => {
    const alice = track(await user(server, 'alice'));
    const bob = track(await user(server, 'bob'));
    const conv = await directChat(alice, bob);
    // The first attempt reached the server (stored), but its answer never came back.
    const id = 'lost-ack-1';
    const first = await alice.auth.request('POST', `/v1/conversations/${conv}/messages`,
      { body: { client_msg_id: id, body: 'only once' } });
    const again = await alice.send(conv, 'only once', { clientMsgId: id }).done;
    assert.equal(again.seq, first.message.seq);
    await waitFor([alice], () => alice.conversations.get(conv).log.syncedSeq >= again.seq, 'held');
    assert.deepEqual(bodies(alice, conv), ['only once']);
    assertLogIsWhole(alice, conv);
  });

  test('edits, deletes and reactions reach the other side', async () => {
    const alice = track(await user(server, 'alice'));
    const bob = track(await user(server, 'bob'));
    const conv = await directChat(alice, bob);
    const m = await alice.send(conv, 'typo here').done;
    await waitFor([bob], () => bodies(bob, conv).includes('typo here'), 'message at bob');

    await alice.edit(conv, m.seq, 'fixed here');
    await waitFor([bob], () => bob.conversations.get(conv).log.message(m.seq).body === 'fixed here',
      'the edit');
    assert.ok(bob.conversations.get(conv).log.message(m.seq).edited_ts);

    const r = await bob.react(conv, m.seq, '🎉');
    assert.equal(r.added, true);
    await waitFor([alice], () => alice.conversations.get(conv).log.message(m.seq)
      .reactions['🎉']?.includes(bob.me.userId), 'the reaction');
    const back = await bob.react(conv, m.seq, '🎉');
    assert.equal(back.added, false);
    await waitFor([alice], () => !alice.conversations.get(conv).log.message(m.seq).reactions['🎉'],
      'the reaction taken back');

    await alice.delete(conv, m.seq);
    await waitFor([bob], () => bob.conversations.get(conv).log.message(m.seq).deleted, 'the delete');
    assert.equal(bob.conversations.get(conv).log.message(m.seq).body, null);
    assert.equal(await alice.delete(conv, m.seq), null, 'deleting twice is fine');
  });

  test('typing shows at the other side', async () => {
    const alice = track(await user(server, 'alice'));
    const bob = track(await user(server, 'bob'));
    const conv = await directChat(alice, bob);
    const typing = bob.once('typing', (t) => t.conv === conv && t.typing);
    alice.typing(conv);
    const t = await typing;
    assert.equal(t.user, alice.me.userId);
    assert.deepEqual(bob.typingUsers(conv), [alice.me.userId]);
  });

  test('groups: create, rename, add and remove members, leave', async () => {
    const alice = track(await user(server, 'alice'));
    const bob = track(await user(server, 'bob'));
    const carol = track(await user(server, 'carol'));
    const group = await alice.createGroup('Tea', [bob.me.userId]);
    await waitFor([bob], () => bob.conversations.get(group.id), 'bob in the group');

    await alice.addMember(group.id, carol.me.userId);
    await waitFor([carol], () => carol.conversations.get(group.id)?.log.loaded, 'carol added');
    await alice.rename(group.id, 'Mad tea');
    await waitFor([carol], () => carol.conversations.get(group.id).title === 'Mad tea', 'rename');

    await (carol.send(group.id, 'hi all')).done;
    await waitFor([alice, bob], () => bodies(alice, group.id).includes('hi all') &&
      bodies(bob, group.id).includes('hi all'), 'group message');

    await alice.removeMember(group.id, carol.me.userId);
    await waitFor([carol], () => !carol.conversations.has(group.id), 'carol removed');
    await bob.leave(group.id);
    assert.equal(bob.conversations.has(group.id), false);
    await waitFor([alice], () => !alice.conversations.get(group.id).members.includes(bob.me.userId),
      'bob gone at alice');
  });

  test('a client that was away fetches what it missed', async () => {
    const alice = track(await user(server, 'alice'));
    const bob = track(await user(server, 'bob'));
    const conv = await directChat(alice, bob);
    bob.stop();
    for (let i = 0; i < 120; i++) alice.send(conv, `while away ${i}`);
    await Promise.all(alice.outbox.map((m) => m.done).filter(Boolean));
    await waitFor([alice], () => alice.outbox.length === 0, 'alice sent everything');
    bob.start();
    await waitFor([bob], () => bodies(bob, conv).length === 120, 'bob caught up');
    assertLogIsWhole(bob, conv);
    assert.equal(bob.conversations.get(conv).unread, 120);
  });

  test('silent refresh: the access token is renewed before it expires', async () => {
    const short = await startParleyd({ args: ['--access-token-ttl-s', '2'] });
    try {
      const alice = track(await user(short, 'alice'));
      const first = alice.auth.session.accessToken;
      const renewed = await alice.once('session', (s) => s && s.accessToken !== first);
      assert.ok(renewed.expiresAt > Date.now());
      // The renewed token works for HTTP, and the old refresh token was not used twice.
      const me = await alice.fetchUser(alice.me.userId);
      assert.equal(me.user_id, alice.me.userId);
      assert.equal(alice.state, 'online');
    } finally {
      await short.dispose();
    }
  });

  test('logging the device out elsewhere ends the session with a clear message', async () => {
    const alice = track(await user(server, 'alice'));
    const ended = alice.once('session_ended');
    await fetch(`${server.url}/v1/auth/logout`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${alice.auth.session.accessToken}` },
    });
    const reason = await ended;
    assert.match(reason.message, /sign in again/);
    assert.equal(alice.state, 'signed_out');
    assert.equal(alice.me, null);
  });
});

describe('server restart in the middle of a conversation', () => {
  test('both clients reconnect, resend their outboxes, and keep every message once', async () => {
    let server = await startParleyd();
    const { port, dataDir } = server;
    const clients = [];
    try {
      const alice = await user(server, 'alice');
      const bob = await user(server, 'bob');
      clients.push(alice, bob);
      const conv = await directChat(alice, bob);
      for (let i = 0; i < 5; i++) {
        await alice.send(conv, `a${i}`).done;
        await bob.send(conv, `b${i}`).done;
      }
      await waitFor([alice, bob], () => bodies(alice, conv).length === 10 &&
        bodies(bob, conv).length === 10, 'the first ten everywhere');

      const aliceOffline = alice.once('state', (s) => s.state === 'offline');
      const bobOffline = bob.once('state', (s) => s.state === 'offline');
      await server.stop();
      await Promise.all([aliceOffline, bobOffline]);

      // Written while the server is down: pending, shown, resent later.
      const pendingA = [0, 1, 2].map((i) => alice.send(conv, `down-a${i}`));
      const pendingB = [0, 1].map((i) => bob.send(conv, `down-b${i}`));
      assert.equal(alice.timeline(conv).filter((e) => e.pending).length, 3);

      server = await startParleyd({ dataDir, port });
      await Promise.all([...pendingA, ...pendingB].map((p) => p.done));
      await (alice.send(conv, 'after restart')).done;

      const expected = 10 + 3 + 2 + 1;
      await waitFor([alice, bob], () => bodies(alice, conv).length === expected &&
        bodies(bob, conv).length === expected &&
        alice.conversations.get(conv).log.syncedSeq === alice.conversations.get(conv).last_seq &&
        bob.conversations.get(conv).log.syncedSeq === bob.conversations.get(conv).last_seq,
      'every message at both');
      assert.deepEqual(bodies(alice, conv), bodies(bob, conv));
      for (const name of ['down-a0', 'down-a1', 'down-a2', 'down-b0', 'down-b1', 'after restart']) {
        assert.equal(bodies(bob, conv).filter((b) => b === name).length, 1, name);
      }
      assertLogIsWhole(alice, conv);
      assertLogIsWhole(bob, conv);
    } finally {
      for (const c of clients) c.stop();
      await server.stop();
      const { rmSync } = await import('node:fs');
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
