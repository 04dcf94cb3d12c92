/**
 * The live area's entry: its fields of LIVE_SDL (`sessionEvents`, `renewConnection`). Its
 * transport, the WebSocket server (createLiveConnections), is not an area: it is the second
 * door of the one request pipeline, attached to the HTTP server after the areas are composed.
 */
import type { Area } from '../areas/area.js';
import { createSessionEventResolvers, type SessionEventResolverOptions } from './session-subscription.js';

/** The live area: `sessionEvents` over the given event bus, and `renewConnection`. */
export function liveArea(options: SessionEventResolverOptions): Area {
  return { name: 'live', resolvers: createSessionEventResolvers(options) };
}
