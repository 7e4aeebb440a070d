/** Invite codes: length, alphabet and an even spread over the alphabet (no modulo bias). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { generateInviteCode, INVITE_CODE_ALPHABET, INVITE_CODE_LENGTH, isInviteCode } from '../../src/services/inviteCodes.js';

describe('invite codes', () => {
  it('are 10 characters of [A-Za-z0-9_-], every symbol about equally often', () => {
    assert.equal(INVITE_CODE_LENGTH, 10);
    assert.equal(new Set(INVITE_CODE_ALPHABET).size, 64);
    const counts = new Map<string, number>();
    const n = 20_000;
    for (let i = 0; i < n; i++) {
      const code = generateInviteCode();
      assert.match(code, /^[A-Za-z0-9_-]{10}$/);
      for (const ch of code) counts.set(ch, (counts.get(ch) ?? 0) + 1);
    }
    assert.equal(counts.size, 64, 'every symbol appears');
    // Expected 3125 each; a biased generator (e.g. byte % 62) is off by ~25% for some symbols.
    const expected = (n * INVITE_CODE_LENGTH) / 64;
    for (const [ch, count] of counts) assert.ok(Math.abs(count - expected) < expected * 0.1, `${ch}: ${count} vs ${expected}`);
  });

  it('recognises the shape exactly', () => {
    assert.equal(isInviteCode('abcDEF12_-'), true);
    for (const bad of ['', 'abcDEF12_', 'abcDEF12_-x', 'abcDEF12_+', 'abcDEF12 -', 'abcDEF12_é']) assert.equal(isInviteCode(bad), false, bad);
  });
});
