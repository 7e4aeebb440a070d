/** Device info from core.Initialize, bounded before it is stored. */
import type { osmium } from '../gen/osmium.js';
import type { DeviceInfo } from '../store/sessionsRepo.js';
import { boundedString } from './validate.js';

export const DEVICE_FIELD_MAX = 64;

export const NO_DEVICE: DeviceInfo = { clientId: 0, deviceType: '', deviceVersion: '', appVersion: '' };

export function validateDevice(request: osmium.client.core.Initialize.$Properties): DeviceInfo {
  return {
    clientId: (request.client_id ?? 0) >>> 0,
    deviceType: boundedString(request.device_type, 'device_type', DEVICE_FIELD_MAX),
    deviceVersion: boundedString(request.device_version, 'device_version', DEVICE_FIELD_MAX),
    appVersion: boundedString(request.app_version, 'app_version', DEVICE_FIELD_MAX),
  };
}
