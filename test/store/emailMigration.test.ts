/**
 * Migration 0006 and its finishing step (src/store/legacyEmails.ts) bring
 * addresses stored before the canonical rule to their canonical form; what
 * cannot be converted is kept as it was and logged.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { runner } from 'node-pg-migrate';
import pg from 'pg';
import { createLogger } from '../../src/logger.js';
import { migrate } from '../../src/store/postgres.js';
import { UsersRepo } from '../../src/store/usersRepo.js';
import { createDatabase } from '../helpers/stack.js';

const MIGRATIONS_DIR = join(import.meta.dirname, '..', '..', 'src', 'store', 'migrations');

describe('canonical email migration', () => {
  it('lowercases and IDNA-converts stored addresses, keeps and logs those it cannot convert, and keeps codes valid', async () => {
    const url = await createDatabase();
    // The schema as it was before the canonical rule (migrations 0001 to 0004).
    await runner({ databaseUrl: url, dir: MIGRATIONS_DIR, direction: 'up', count: 4, migrationsTable: 'schema_migrations', log: () => {} });
    const pool = new pg.Pool({ connectionString: url });
    try {
      const legacy: Array<[string, string]> = [
        ['1001', 'Alice@Example.ORG'],
        ['1002', 'bob@MÜNCHEN.de'],
        ['1003', 'x<v@example.org>'],
        ['1004', 'carol@example.org'],
        ['1005', 'carol@ｅｘａｍｐｌｅ.org'], // the same mailbox once canonical: 1004 already has it
        ['1006', 'plain@example.net'],
      ];
      for (const [id, email] of legacy) await pool.query(`INSERT INTO users (id, name, email) VALUES ($1, 'Legacy', $2)`, [id, email]);
      await pool.query(
        `INSERT INTO email_codes (user_id, purpose, email, salt, code_hash, expires_at) VALUES (1001, 'reset_password', 'Alice@Example.ORG', '\\x00', '\\x00', now() + interval '1 hour')`,
      );

      const lines: Array<Record<string, unknown>> = [];
      const log = createLogger({ level: 'info', pretty: false, destination: new Writable({ write: (c, _e, done) => (lines.push(JSON.parse(String(c))), done()) }) });
      await migrate(url, log);

      const emails = new Map((await pool.query<{ id: string; email: string }>(`SELECT id, email FROM users`)).rows.map((r) => [r.id, r.email]));
      assert.equal(emails.get('1001'), 'alice@example.org');
      assert.equal(emails.get('1002'), 'bob@xn--mnchen-3ya.de');
      assert.equal(emails.get('1003'), 'x<v@example.org>', 'an address the rule refuses is kept as it was');
      assert.equal(emails.get('1004'), 'carol@example.org');
      assert.equal(emails.get('1005'), 'carol@ｅｘａｍｐｌｅ.org', 'a collision is kept as it was');
      assert.equal(emails.get('1006'), 'plain@example.net');

      const warned = lines.find((l) => /left unchanged/.test(String(l.msg)));
      assert.deepEqual(
        (warned?.users as Array<{ userId: string }>).map((u) => u.userId).sort(),
        ['1003', '1005'],
        'the accounts left unchanged are logged for an operator',
      );
      const codes = await pool.query<{ email: string }>(`SELECT email FROM email_codes WHERE user_id = 1001`);
      assert.equal(codes.rows[0]?.email, 'alice@example.org', 'a code mailed before still matches its account');
      assert.equal((await pool.query(`SELECT 1 FROM email_canonicalisation_pending`)).rowCount, 0, 'nothing left to do');

      const users = new UsersRepo(pool);
      assert.equal((await users.byEmail('alice@example.org'))?.id, '1001');
      assert.equal((await users.byEmail('bob@xn--mnchen-3ya.de'))?.id, '1002');

      await migrate(url, log); // a second start finds nothing to do
      assert.equal(lines.filter((l) => /left unchanged/.test(String(l.msg))).length, 1);
    } finally {
      await pool.end();
    }
  });
});
