/**
 * The Node helper for chat backends behind the Osmium auth gateway
 * (`import ... from 'osmium-auth-gateway/backend'`). It runs in the backend's
 * process, never in the gateway's: it imports only its own files and the
 * generated codecs (.dependency-cruiser.cjs).
 *
 * - createBackendHandler: serve the gateway → backend hop (forwarded methods and the group hooks).
 * - GatewayApi: push Updates, close sockets and read presence through the gateway's internal API.
 * - RPC_RESULT_FIELDS, CLIENT_METHOD_FIELDS, UPDATE_FIELDS: the protocol's oneof field numbers.
 *
 * The contract itself: proto/osmium/gateway/v1/backend.proto and README.md beside it.
 */
export {
  CALL_PATH,
  createBackendHandler,
  type BackendHandlerOptions,
  type BackendHooks,
  type CallContext,
  type Caller,
  type ForwardedCallContext,
  type GroupJoinAnswer,
  type GroupJoinRequest,
  type GroupMembershipAnswer,
  type GroupMembershipQuery,
  type MethodAnswer,
  type MethodFunction,
} from './handler.js';
export { GatewayApi, type Disconnect, type GatewayApiOptions, type Push, type PushResult, type UserPresence } from './gatewayApi.js';
export { BackendError, GatewayApiError } from './errors.js';
export { idFromWire, idToWire, type Id } from './ids.js';
export { CLIENT_METHOD_FIELDS, RPC_RESULT_FIELDS, UPDATE_FIELDS, type ClientMethodName, type RpcResultName, type UpdateName } from '../gen/fields.js';
export { osmium as backendProto } from '../gen/backend.js';
