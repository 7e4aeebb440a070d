/**
 * core.Initialize → Initialized: records the client's device info (as real
 * clients send it: validate.ts deviceField) and returns the entrypoints.
 */
import type { DeviceInfo } from '../domain/device.js';
import type { osmium } from '../gen/osmium.js';
import type { Method } from './types.js';
import { deviceField } from './validate.js';

export const initialize: Method<'core_initialize'> = {
  needsSession: false,
  async handle(request, { conn, services }) {
    const device = deviceOf(request);
    // An Initialize after authorization updates the bound session's device info.
    if (conn.session) await services.sessions.updateDevice(conn.session.sessionId, device);
    return { result: { initialized: { entrypoints: { entrypoints: services.entrypoints.forHost(conn.host) } } }, change: { device } };
  },
};

/** Device info from core.Initialize, bounded before it is stored. */
function deviceOf(request: osmium.client.core.Initialize.$Properties): DeviceInfo {
  return {
    clientId: (request.client_id ?? 0) >>> 0,
    deviceType: deviceField(request.device_type, 'device_type'),
    deviceVersion: deviceField(request.device_version, 'device_version'),
    appVersion: deviceField(request.app_version, 'app_version'),
  };
}
