/**
 * Postgres repository of the devices each account signed in from
 * (`known_devices`): client id, device type and country ('' when unknown).
 * A sign-in from a device not listed here mails the owner.
 */
import type { DeviceInfo, Geo } from '../domain/device.js';
import type { Id } from '../domain/ids.js';
import type { Pool } from './postgres.js';

export class KnownDevicesRepo {
  constructor(private readonly pool: Pool) {}

  /**
   * Records that the user signed in from this device and says whether it was
   * new: no earlier row with the same client id and device type, and the same
   * country when the country is known (a sign-in without geo matches any).
   */
  async remember(userId: Id, device: DeviceInfo, geo: Geo): Promise<{ isNew: boolean }> {
    const country = geo.country ?? '';
    const { rows } = await this.pool.query<{ seen_before: boolean }>(
      `WITH before AS (
         SELECT EXISTS (
           SELECT 1 FROM known_devices
           WHERE user_id = $1 AND client_id = $2 AND device_type = $3 AND ($4 = '' OR country = $4)
         ) AS seen_before
       ), upsert AS (
         INSERT INTO known_devices (user_id, client_id, device_type, country) VALUES ($1, $2, $3, $4)
         ON CONFLICT (user_id, client_id, device_type, country) DO UPDATE SET last_seen = now()
       )
       SELECT seen_before FROM before`,
      [userId, device.clientId, device.deviceType, country],
    );
    return { isNew: !rows[0]!.seen_before };
  }
}
