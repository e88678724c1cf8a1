// The client library's sync over a paged conversation list (the server answers `sync` a page
// at a time, issue 17 #6), and group invitations.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { ParleyClient } from '../src/index.js';
import { startParleyd, waitFor } from './support/parleyd.js';

const PASSWORD = 'correct horse battery';
let counter = 0;

/** A registered and logged-in client; started (and synced) only when `start` is true. */
async function user(server, name, { start = true } = {}) {
  const username = `${name}${++counter}`;
  const client = new ParleyClient({
    baseUrl: server.url,
    backoff: { baseMs: 50, capMs: 400 },
    loadAll: false,
  });
  await client.register({ username, password: PASSWORD, displayName: name });
  await client.login({ username, password: PASSWORD });
  client.username = username;
  if (start) {
    client.start();
    await client.whenOnline();
  }
  return client;
}

describe('paged sync and invitations', () => {
  let server;
  const clients = [];
  const track = (c) => (clients.push(c), c);

  before(async () => {
    server = await startParleyd({
      args: ['--conversations-page-size', '3', '--rate-conversations-burst', '1000'],
    });
  });
  after(async () => {
    for (const c of clients) c.stop();
    await server?.dispose();
  });

  test('sync follows the cursor over several pages and gets every conversation', async () => {
    const alice = track(await user(server, 'alice'));
    const bob = track(await user(server, 'bob', { start: false }));
    const bobId = (await alice.findUser(bob.username)).user_id;
    const made = new Set();
    for (let i = 0; i < 8; i++) made.add((await alice.createGroup(`g${i}`, [bobId])).id);

    bob.start();
    await bob.whenOnline();
    assert.deepEqual(new Set(bob.conversations.keys()), made, 'all 8 over 3 pages of 3');
    assert.equal(bob.listConversations().length, 8);
  });

  test('an add the setting does not allow is an invitation until accepted', async () => {
    const alice = track(await user(server, 'alice'));
    const bob = track(await user(server, 'bob'));
    assert.equal(await bob.groupAdds(), 'anyone');
    assert.equal(await bob.setGroupAdds('nobody'), 'nobody');
    const bobId = (await alice.findUser(bob.username)).user_id;

    const invited = new Promise((resolve) => bob.on('invitation', resolve));
    const conv = await alice.createGroup('party', [bobId]);
    const invitation = await invited;
    assert.equal(invitation.conv, conv.id);
    assert.equal(invitation.title, 'party');
    assert.equal(bob.conversations.has(conv.id), false);
    assert.equal((await bob.invitations()).length, 1);

    await bob.acceptInvitation(invitation.id);
    await waitFor([bob], () => bob.conversations.has(conv.id), 'bob in the group');
    assert.deepEqual(await bob.invitations(), []);

    // Declining removes it.
    const again = new Promise((resolve) => bob.on('invitation', resolve));
    const other = await alice.createGroup('other', [bobId]);
    const second = await again;
    assert.equal(second.conv, other.id);
    await bob.declineInvitation(second.id);
    assert.deepEqual(await bob.invitations(), []);
    assert.equal(bob.conversations.has(other.id), false);
  });
});
