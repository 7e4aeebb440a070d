/**
 * `admin totp ...`: the encryption at rest of TOTP secrets. After putting a
 * new key first in TOTP_ENCRYPTION_KEY (the old ones after it) and restarting
 * the gateways, `reencrypt` re-seals every secret with the new key; then the
 * old keys can be dropped from the setting.
 */
import { SecretBox } from '../services/secretBox.js';
import { sealContext } from '../services/totp.js';
import { loadTotpKeys } from '../store/totpKeyFile.js';
import { TotpRepo } from '../store/totpRepo.js';
import type { AdminCommand } from './command.js';

const PAGE = 500;

export const totpCommands: Record<string, AdminCommand> = {
  reencrypt: {
    usage: 'reencrypt',
    summary: 'seal every stored TOTP secret with the first key of TOTP_ENCRYPTION_KEY (after a key rotation)',
    async run(_args, ctx) {
      const ring = await loadTotpKeys(ctx.config);
      if (!ring) throw new Error('TOTP_ENCRYPTION_KEY is not set');
      const box = new SecretBox(ring.keys);
      const repo = new TotpRepo(ctx.db);
      let resealed = 0;
      let after = '0';
      for (;;) {
        const page = await repo.sealedWithOtherKey(box.currentKid, after, PAGE);
        if (!page.length) break;
        for (const { userId, secret } of page) {
          const context = sealContext(userId);
          if (await repo.reseal(userId, secret, box.seal(box.open(secret, context), context))) resealed++;
          after = userId;
        }
      }
      ctx.print({ kid: box.currentKid, resealed });
    },
  },
};
