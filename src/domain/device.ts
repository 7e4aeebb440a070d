/** What a client says about itself (core.Initialize) and where it connects from (proxy headers). */

/** Device info reported by core.Initialize on the socket that created or resumed a session. */
export interface DeviceInfo {
  clientId: number;
  deviceType: string;
  deviceVersion: string;
  appVersion: string;
}

/** Country and region, only from headers the operator's proxy sets (never guessed). */
export interface Geo {
  country?: string;
  region?: string;
}

/** A socket that has not sent core.Initialize. */
export const NO_DEVICE: DeviceInfo = Object.freeze({ clientId: 0, deviceType: '', deviceVersion: '', appVersion: '' });

/** Shared by every socket without geo headers (most of them): one object, not one each. */
export const NO_GEO: Geo = Object.freeze({});
