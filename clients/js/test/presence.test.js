// Presence (docs/PROTOCOL.md §13) through the client library against a real parleyd with a
// short grace period: the state queried after connecting, events after that, and both coming
// out the same way ('presence' events, client.presence).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { ParleyClient } from '../src/index.js';
import { startParleyd, waitFor } from './support/parleyd.js';

const PASSWORD = 'correct horse battery';
let counter = 0;

function newClient(server) {
  return new ParleyClient({ baseUrl: server.url, backoff: { baseMs: 50, capMs: 400 } });
}

/** A registered, logged-in, started client with a fresh username. */
async function user(server, name) {
  const username = `${name}${++counter}`;
  const client = newClient(server);
  await client.register({ username, password: PASSWORD, displayName: name });
  await client.login({ username, password: PASSWORD });
  client.start();
  await client.whenOnline();
  client.username = username;
  return client;
}

/** The first 'presence' event passing `predicate`, or a rejection after `ms`. */
function presenceEvent(client, predicate, what, ms = 15_000) {
  let timer;
  return Promise.race([
    client.once('presence', predicate).finally(() => clearTimeout(timer)),
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms);
    }),
  ]);
}

describe('presence through the client', () => {
  let server;
  const clients = [];
  const track = (c) => (clients.push(c), c);

  before(async () => {
    server = await startParleyd({
      // Groups push no presence here, so the subscription test shows subscriptions at work.
      args: ['--presence-grace-ms', '200', '--presence-max-group-size', '1'],
    });
  });
  after(async () => {
    for (const c of clients) c.stop();
    await server?.dispose();
  });

  test('bob is online to alice from the query after connecting, offline by event once he leaves', async () => {
    const bob = track(await user(server, 'bob'));
    const alice = track(await user(server, 'alice'));
    const bobId = bob.me.userId;
    await alice.createDirect((await alice.findUser(bob.username)).user_id);

    // Alice on a new device, connecting after Bob: no event is due, the query must tell her.
    const alice2 = track(newClient(server));
    await alice2.login({ username: alice.username, password: PASSWORD });
    const seen = presenceEvent(alice2, (p) => p.user === bobId, 'bob in the presence query');
    alice2.start();
    const event = await seen;
    assert.equal(event.type, 'presence');
    assert.equal(event.status, 'online');
    assert.equal(typeof event.last_seen, 'number');
    assert.equal(alice2.presence.get(bobId).status, 'online');
    // The new chat's member was queried too on the first device.
    await waitFor([alice], () => alice.presence.get(bobId)?.status === 'online', 'alice to see bob');

    const offline = presenceEvent(alice2, (p) => p.user === bobId && p.status === 'offline',
      'bob going offline');
    const onlineSince = event.last_seen;
    bob.stop();
    const gone = await offline;
    assert.ok(gone.last_seen >= onlineSince, 'last_seen only grows');
    assert.equal(alice2.presence.get(bobId).status, 'offline');
    assert.equal(alice2.presence.get(bobId).last_seen, gone.last_seen);
  });

  test('queryPresence chunks past 200 and leaves out strangers; setPresence reaches peers', async () => {
    const bob = track(await user(server, 'bob'));
    const alice = track(await user(server, 'alice'));
    const carol = track(await user(server, 'carol'));
    const bobId = bob.me.userId;
    await alice.createDirect((await alice.findUser(bob.username)).user_id);

    const strangers = Array.from({ length: 250 }, (_, i) => `u_nobody${i}`);
    const answer = await alice.queryPresence([...strangers, bobId, carol.me.userId, bobId]);
    assert.deepEqual(answer.map((p) => p.user_id), [bobId]);
    assert.equal(answer[0].status, 'online');

    const away = presenceEvent(alice, (p) => p.user === bobId && p.away === true, 'bob away');
    await bob.setPresence('away', 'at lunch');
    const event = await away;
    assert.equal(event.text, 'at lunch');
    assert.equal(event.status, 'online');
    assert.equal(alice.presence.get(bobId).text, 'at lunch');

    const back = presenceEvent(alice, (p) => p.user === bobId && !p.away, 'bob back');
    await bob.setPresence('online');
    const backEvent = await back;
    assert.equal(backEvent.text, undefined);
  });

  test('subscribePresence answers for the people you share a conversation with, and renews on reconnect', async () => {
    const bob = track(await user(server, 'bob'));
    const alice = track(await user(server, 'alice'));
    const carol = track(await user(server, 'carol'));
    const bobId = bob.me.userId;
    await alice.createGroup('tea', [bobId]);
    const answer = await alice.subscribePresence([bobId, carol.me.userId]);
    assert.deepEqual(answer.map((p) => p.user_id), [bobId]);

    assert.equal(alice.presenceSubscribed, true);

    // After a reconnect the subscription is sent again (the server forgets it with the socket).
    // Each wait is registered before the action that causes it.
    const wentOffline = alice.once('state', (s) => s.state === 'offline');
    alice.networkLost();
    await wentOffline;
    assert.equal(alice.presenceSubscribed, false);
    const backOnline = alice.whenOnline();
    alice.reconnectNow();
    await backOnline;
    // Bob's change must happen after the server holds the renewed subscription, or it would
    // reach Alice only by luck.
    await waitFor([alice], () => alice.presenceSubscribed, 'the subscription renewed');
    const offline = presenceEvent(alice, (p) => p.user === bobId && p.status === 'offline',
      'bob offline after alice reconnected');
    bob.stop();
    await offline;
  });
});
