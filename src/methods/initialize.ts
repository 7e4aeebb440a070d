/** core.Initialize → Initialized: records the client's device info and returns the entrypoints. */
import type { DeviceInfo } from '../domain/device.js';
import type { osmium } from '../gen/osmium.js';
import type { Method } from './types.js';
import { boundedString } from './validate.js';

/** Longest device field kept (device_type, device_version, app_version). */
const DEVICE_FIELD_MAX = 64;

export const initialize: Method<'core_initialize'> = {
  needsSession: false,
  async handle(request, { conn, services }) {
    conn.device = deviceOf(request);
    // An Initialize after authorization updates the bound session's device info.
    if (conn.session) await services.sessions.updateDevice(conn.session.sessionId, conn.device);
    return { initialized: { entrypoints: { entrypoints: services.entrypoints.forHost(conn.host) } } };
  },
};

/** Device info from core.Initialize, bounded before it is stored. */
function deviceOf(request: osmium.client.core.Initialize.$Properties): DeviceInfo {
  return {
    clientId: (request.client_id ?? 0) >>> 0,
    deviceType: boundedString(request.device_type, 'device_type', DEVICE_FIELD_MAX),
    deviceVersion: boundedString(request.device_version, 'device_version', DEVICE_FIELD_MAX),
    appVersion: boundedString(request.app_version, 'app_version', DEVICE_FIELD_MAX),
  };
}
