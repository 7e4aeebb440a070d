/** Turns where a security event came from into what a notice mail says: when, device, app, place. */
import type { AuditOrigin } from '../domain/audit.js';
import type { ClientAppsRepo } from '../store/clientAppsRepo.js';
import type { MailOrigin } from './mailTemplates.js';

export class MailOrigins {
  private readonly clientApps: ClientAppsRepo;

  constructor(deps: { clientApps: ClientAppsRepo }) {
    this.clientApps = deps.clientApps;
  }

  async describe(origin: AuditOrigin, at = new Date()): Promise<MailOrigin> {
    const device = origin.device;
    let app = '';
    if (device && device.clientId) {
      const name = (await this.clientApps.names([device.clientId])).get(device.clientId);
      app = `${name ?? `client ${device.clientId}`} ${device.appVersion}`.trim();
    }
    const place = [origin.geo.country, origin.geo.region].filter(Boolean).join(' / ');
    return { at, device: device ? `${device.deviceType} ${device.deviceVersion}`.trim() : '', app, place };
  }
}
