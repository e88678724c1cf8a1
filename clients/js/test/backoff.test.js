import assert from 'node:assert/strict';
import { test } from 'node:test';

import { Backoff } from '../src/index.js';

test('delays are full jitter under a doubling ceiling, capped', () => {
  const top = new Backoff({ baseMs: 500, capMs: 30_000, random: () => 0.999999 });
  const ceilings = Array.from({ length: 10 }, () => top.next() + 1);
  assert.deepEqual(ceilings, [500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000, 30000]);
  const bottom = new Backoff({ random: () => 0 });
  assert.equal(bottom.next(), 0);
});

test('reset starts over; slowDown starts from the slow base', () => {
  const b = new Backoff({ baseMs: 100, slowBaseMs: 5000, random: () => 0.999999 });
  b.next();
  b.next();
  b.reset();
  assert.equal(b.next() + 1, 100);
  b.reset();
  b.slowDown();
  assert.equal(b.next() + 1, 5000);
});
