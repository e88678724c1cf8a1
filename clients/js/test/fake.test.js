// The client against a scripted server (a fake WebSocket and fetch): what a real parleyd does
// not send yet (presence), and paths that are hard to force on a real one (an access token
// refused at the socket).
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { ParleyClient, memoryStorage } from '../src/index.js';

/** A WebSocket whose server side is `script(frame, socket)`. */
function fakeSocketClass(script) {
  const sockets = [];
  class FakeWebSocket {
    constructor(url) {
      this.url = url;
      this.readyState = 0;
      this.sent = [];
      sockets.push(this);
      queueMicrotask(() => {
        this.readyState = 1;
        this.onopen?.();
      });
    }

    send(data) {
      const frame = JSON.parse(data);
      this.sent.push(frame);
      queueMicrotask(() => script(frame, this));
    }

    reply(frame) {
      if (this.readyState === 1) this.onmessage?.({ data: JSON.stringify(frame) });
    }

    close(code = 1000) {
      if (this.readyState === 3) return;
      this.readyState = 3;
      queueMicrotask(() => this.onclose?.({ code }));
    }
  }
  return { FakeWebSocket, sockets };
}

function signedIn(accessToken = 'token-1') {
  const storage = memoryStorage();
  storage.setItem('parley.session', JSON.stringify({
    userId: 'u_a', deviceId: 'd_a', accessToken, refreshToken: 'refresh-1',
    expiresAt: Date.now() + 600_000,
  }));
  return storage;
}

const conversation = {
  id: 'c_1', type: 'direct', title: '', members: ['u_a', 'u_b'],
  roles: { u_a: 'member', u_b: 'member' }, receipts: {}, last_seq: 0, created_ms: 1,
  read_seq: 0, unread: 0,
};

function standardReplies(frame, socket) {
  if (frame.type === 'auth') {
    socket.reply({ type: 'ready', re: frame.id, user_id: 'u_a', device_id: 'd_a',
      session_id: 's_1', heartbeat_ms: 30_000 });
  } else if (frame.type === 'sync') {
    socket.reply({ type: 'sync', re: frame.id, conversations: [conversation] });
  } else if (frame.type === 'history') {
    socket.reply({ type: 'history', re: frame.id, conv: frame.conv, messages: [], has_more: false });
  } else if (frame.id !== undefined) {
    socket.reply({ type: 'ok', re: frame.id });
  }
}

const users = async (url) => {
  const id = decodeURIComponent(url.split('/').pop());
  return new Response(JSON.stringify({ user_id: id, username: id, display_name: id }),
    { status: 200, headers: { 'Content-Type': 'application/json' } });
};

test('presence events are kept per user and announced', async () => {
  const { FakeWebSocket, sockets } = fakeSocketClass(standardReplies);
  const client = new ParleyClient({ baseUrl: 'http://parley.test', WebSocket: FakeWebSocket,
    storage: signedIn(), fetch: users });
  client.start();
  await client.whenOnline();
  assert.equal(client.presence.size, 0, 'nothing known until an event says so');

  const announced = client.once('presence');
  sockets[0].reply({ type: 'presence', user: 'u_b', status: 'online', last_seen: 1700 });
  assert.equal((await announced).user, 'u_b');
  assert.deepEqual(client.presence.get('u_b'), { status: 'online', last_seen: 1700 });

  sockets[0].reply({ type: 'presence', user: 'u_b', status: 'offline', last_seen: 1800 });
  assert.deepEqual(client.presence.get('u_b'), { status: 'offline', last_seen: 1800 });
  client.stop();
});

test('a token refused at the socket (4401) is refreshed and the client connects again', async () => {
  const { FakeWebSocket, sockets } = fakeSocketClass((frame, socket) => {
    if (frame.type === 'auth' && frame.token === 'token-1') {
      socket.close(4401);
      return;
    }
    standardReplies(frame, socket);
  });
  const refreshes = [];
  const fetch = async (url, init) => {
    if (url.endsWith('/v1/auth/refresh')) {
      refreshes.push(JSON.parse(init.body).refresh_token);
      return new Response(JSON.stringify({ user_id: 'u_a', device_id: 'd_a',
        access_token: 'token-2', refresh_token: 'refresh-2', expires_in: 900 }), { status: 200 });
    }
    return users(url);
  };
  const storage = signedIn('token-1');
  const client = new ParleyClient({ baseUrl: 'http://parley.test', WebSocket: FakeWebSocket,
    storage, fetch, backoff: { baseMs: 1, capMs: 1 } });
  client.start();
  await client.whenOnline();
  assert.deepEqual(refreshes, ['refresh-1'], 'one refresh, with the stored token');
  assert.equal(sockets.at(-1).sent[0].token, 'token-2');
  assert.equal(JSON.parse(storage.getItem('parley.session')).refreshToken, 'refresh-2');
  client.stop();
});

test('a refused refresh ends the session with a message for the user', async () => {
  const { FakeWebSocket } = fakeSocketClass((frame, socket) => socket.close(4401));
  const fetch = async () => new Response(JSON.stringify({ error: {
    code: 'unauthorized', message: 'refresh token reused: the session has been revoked' } }),
  { status: 401 });
  const storage = signedIn();
  const client = new ParleyClient({ baseUrl: 'http://parley.test', WebSocket: FakeWebSocket,
    storage, fetch, backoff: { baseMs: 1, capMs: 1 } });
  const ended = client.once('session_ended');
  client.start();
  assert.match((await ended).message, /used from somewhere else/);
  assert.equal(client.state, 'signed_out');
  assert.equal(storage.getItem('parley.session'), null);
});

test('sends wait in the outbox while offline and keep their client_msg_id', async () => {
  const { FakeWebSocket, sockets } = fakeSocketClass((frame, socket) => {
    if (frame.type === 'send') {
      socket.reply({ type: 'ack', re: frame.id, conv: frame.conv, seq: 2, msg_id: 'm_2', ts: 5 });
      return;
    }
    standardReplies(frame, socket);
  });
  const storage = signedIn();
  const client = new ParleyClient({ baseUrl: 'http://parley.test', WebSocket: FakeWebSocket,
    storage, fetch: users });
  const { clientMsgId, done } = client.send('c_1', 'written offline');
  assert.equal(JSON.parse(storage.getItem('parley.outbox.u_a'))[0].client_msg_id, clientMsgId,
    'kept for a reload');
  client.start();
  const entry = await done;
  assert.equal(entry.seq, 2);
  const sent = sockets[0].sent.find((f) => f.type === 'send');
  assert.equal(sent.client_msg_id, clientMsgId);
  assert.equal(storage.getItem('parley.outbox.u_a'), null, 'nothing left to send');
  client.stop();
});
