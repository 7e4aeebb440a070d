import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SessionIndex } from '../../src/gateway/sessionIndex.js';

describe('session index', () => {
  it('tracks one and several sockets per session, and the bound count', () => {
    const index = new SessionIndex<string>();
    index.add('s1', 'a');
    index.add('s1', 'a'); // twice: no effect
    index.add('s1', 'b');
    index.add('s2', 'c');
    assert.equal(index.size, 3);
    index.remove('s1', 'a');
    assert.equal(index.size, 2);
    assert.deepEqual(index.take('s1'), ['b']);
    assert.equal(index.has('s1'), false);
    index.remove('s2', 'zzz'); // not bound: no effect
    assert.equal(index.size, 1);
    assert.deepEqual(index.take('s2'), ['c']);
    assert.deepEqual(index.take('s2'), []);
    assert.equal(index.size, 0);
  });

  it('hands every socket of a session to take(), in order', () => {
    const index = new SessionIndex<number>();
    for (const n of [1, 2, 3]) index.add('s', n);
    index.remove('s', 2);
    assert.deepEqual(index.take('s'), [1, 3]);
    assert.equal(index.size, 0);
  });
});
