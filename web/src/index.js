// @ts-check
/**
 * tickwire-client: a browser (and Node) client of tickwire servers. Connect,
 * play, and read every snapshot in game units; or use the codec alone to
 * decode any game's snapshots from its schema.
 * @module
 */

export { connect, matchmake, Client } from './client.js';
export { Schema, fnv1a64, SCHEMA_FORMAT, ROLES, MAX_LEN } from './schema.js';
export {
  decodeSnapshot,
  presentSnapshot,
  presentEntity,
  predictEntity,
  encodeInput,
  decodeInput,
  encodeMessage,
  decodeMessage,
  encodeEvent,
  decodeEvent,
  findEntity,
} from './codec.js';
export {
  decodeServerMsg,
  encodeClientMsg,
  tokenToHex,
  tokenFromHex,
  PROTOCOL_VERSION,
  MAX_SERVER_MESSAGE,
} from './messages.js';
export { Baselines, MAX_BASELINE_AGE } from './baselines.js';
export { InputClock, TickClock } from './clock.js';
export { InterpolationBuffer, lerp, lerpAngle, nlerp, slerp } from './interpolation.js';
export {
  SnapshotEvent,
  PongEvent,
  DisconnectEvent,
  ResumedEvent,
  SessionLostEvent,
  ServerErrorEvent,
  ClientCloseEvent,
  GameEvent,
  EventsMissedEvent,
  EndedEvent,
  DeniedEvent,
  InputTimingEvent,
  NoticeEvent,
  MovedEvent,
} from './events.js';
export {
  TickwireError,
  SchemaError,
  CodecError,
  MessageError,
  RoleError,
  ProtocolError,
  MissingBaselineError,
  SchemaMismatchError,
  TimeoutError,
  ConnectError,
  RefusedError,
  ClosedError,
  TakenOverError,
  ServerError,
  ClientClosedError,
  REFUSALS,
  ERROR_CODES,
  TAKEN_OVER,
  MOVED,
} from './errors.js';
