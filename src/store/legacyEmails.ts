/**
 * Finishes migration 0006 (canonical email addresses) for the rows Postgres
 * could not convert itself: a Unicode domain needs IDNA (`url.domainToASCII`).
 * Runs after the migrations on every start; the queue table is empty once
 * done, so it then costs one query. Several instances may run it at once:
 * rows are claimed with SKIP LOCKED.
 *
 * A stored address that the rule now refuses (`x<v@example.org>`) or whose
 * canonical form another account already has is left unchanged and logged:
 * no sign-in can reach it by address any more (its sessions keep working),
 * and an operator decides. Nothing is deleted.
 */
import pg from 'pg';
import { canonicalEmail } from '../domain/email.js';
import type { Logger } from '../logger.js';

const BATCH = 500;

/** Runs on `client` (a connection of its own: it opens transactions), which stays open. */
export async function finishEmailCanonicalisation(client: pg.ClientBase, log: Logger): Promise<void> {
  try {
    const left: Array<{ userId: string; reason: string }> = [];
    let converted = 0;
    for (;;) {
      await client.query('BEGIN');
      const { rows } = await client.query<{ user_id: string; email: string | null }>(
        `SELECT p.user_id, u.email FROM email_canonicalisation_pending p JOIN users u ON u.id = p.user_id
         ORDER BY p.user_id LIMIT ${BATCH} FOR UPDATE OF p SKIP LOCKED`,
      );
      for (const row of rows) {
        const canonical = row.email === null ? null : canonicalEmail(row.email);
        if (row.email !== null && canonical === null) left.push({ userId: row.user_id, reason: 'not a plain address under the new rule' });
        else if (canonical !== null && canonical !== row.email) {
          await client.query('SAVEPOINT convert');
          try {
            await client.query(`UPDATE users SET email = $2 WHERE id = $1`, [row.user_id, canonical]);
            // Codes mailed to the old spelling: the owner asks for a new one.
            await client.query(`DELETE FROM email_codes WHERE user_id = $1`, [row.user_id]);
            await client.query('RELEASE SAVEPOINT convert');
            converted++;
          } catch (err) {
            await client.query('ROLLBACK TO SAVEPOINT convert');
            if ((err as { code?: string }).code !== '23505') throw err;
            left.push({ userId: row.user_id, reason: 'another account has the canonical form' });
          }
        }
        await client.query(`DELETE FROM email_canonicalisation_pending WHERE user_id = $1`, [row.user_id]);
      }
      await client.query('COMMIT');
      if (rows.length < BATCH) break;
    }
    if (converted) log.info({ converted }, 'stored email addresses converted to their canonical form');
    if (left.length) {
      log.warn({ users: left }, 'email addresses left unchanged: no sign-in by address reaches these accounts until an operator changes them');
    }
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}
