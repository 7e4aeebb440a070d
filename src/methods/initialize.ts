/** core.Initialize → Initialized: records the client's device info and returns the entrypoints. */
import { parseEntrypoints } from '../config.js';
import { validateDevice } from './device.js';
import type { Method } from './types.js';

export const initialize: Method<'core_initialize'> = {
  needsSession: false,
  async handle(request, { conn, services }) {
    conn.device = validateDevice(request);
    // An Initialize after authorization updates the bound session's device info.
    if (conn.session) await services.sessions.updateDevice(conn.session.sessionId, conn.device);
    const { config } = services;
    const entrypoints = config.ENTRYPOINTS
      ? parseEntrypoints(config.ENTRYPOINTS)
      : [defaultEntrypoint(conn.host, config.PORT)];
    return { initialized: { entrypoints: { entrypoints } } };
  },
};

/** This gateway's own host and port, as the client reached it. */
function defaultEntrypoint(hostHeader: string | undefined, port: number) {
  const match = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(hostHeader ?? '');
  return {
    hostname: match?.[1] ?? 'localhost',
    port: match?.[2] ? Number(match[2]) : port,
    region: 0,
  };
}
