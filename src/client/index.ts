/**
 * The browser client's public surface, bundled by scripts/buildBrowser.mjs
 * into one ES module (`osmium-client.js`, served at /console/osmium-client.js
 * when the console is on). The same modules work in Node.
 */
export { ReconnectingClient, RequestTimeoutError } from './reconnectingClient.js';
export type { ClientState, DeviceInfo, ReconnectingClientEvents, ReconnectingClientOptions } from './reconnectingClient.js';
export { OsmiumClient, RpcCallError, ConnectionClosedError } from './client.js';
export type { Frame, ConnectOptions, CloseEvent } from './client.js';
export { DISPLAY_OPTIONS, plainResult, plainUpdate } from './plain.js';
export type { Plain, PlainAuthorization, PlainRequest, PlainResult, PlainUpdate, ResultName } from './plain.js';
export { osmium } from '../gen/osmium.js';
export { CloseCode } from '../protocol/closeCodes.js';
