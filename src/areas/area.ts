/**
 * What one area (accounts, revocation, sessions, admin, live, health, OAuth) gives the server that
 * composes it. Each area folder has one entry function returning an {@link Area}; createServer
 * builds the shared pieces once (config, stores, verifier, the request pipeline) and composes a
 * list of them, and a library user can compose the same list into a server of their own.
 *
 * Why a list rather than hand wiring: a server wired by hand grew every concern into one
 * function, and a transport wired apart missed a protection the other had. An area says what it
 * adds; the composition decides nothing per area.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { GraphQLContext } from '../context/context.js';
import type { Resolvers } from '../__generated__/resolvers-types.js';

/** HTTP paths an area answers itself, beside /graphql. */
export interface AreaRoutes {
  /** Whether `path` (without the query) is one of this area's. */
  handles(path: string): boolean;
  /** Answers a request to one of its paths. */
  handle(req: IncomingMessage, res: ServerResponse): Promise<void>;
}

/** What an area adds to the schema's directives, which run inside the one request pipeline. */
export interface AreaDirectives {
  /** Fields that need a fresh password check (seconds), as if they carried `@requiresFreshAuth(maxAge:)`. */
  readonly freshAuthFields?: Readonly<Record<string, number>>;
  /** Told of each request `@requiresScopes` refuses (the admin area writes its audit line here). */
  readonly onScopeRefused?: (context: GraphQLContext, field: string, reason: 'TOKEN_MISSING' | 'INSUFFICIENT_SCOPE') => void;
}

/** One area's contribution. Every part is optional: the health area has routes only, the revocation area resolvers only. */
export interface Area {
  /** For logs and tests: `accounts`, `revocation`, … */
  readonly name: string;
  /** Resolvers for its fields of the shared SDL (`typeDefs`). */
  readonly resolvers?: Resolvers;
  readonly routes?: AreaRoutes;
  readonly directives?: AreaDirectives;
  /** Releases what the area opened itself (connections of its own); called by the server's close(). */
  close?(): Promise<void>;
}

/** The resolver maps of `areas`, in order, for makeExecutableSchema (which merges a list). */
export function areaResolvers(areas: readonly Area[]): Resolvers[] {
  return areas.flatMap((area) => (area.resolvers ? [area.resolvers] : []));
}

/** The first area that answers `path`, if any. */
export function areaRoutesFor(areas: readonly Area[], path: string): AreaRoutes | undefined {
  for (const area of areas) if (area.routes?.handles(path)) return area.routes;
  return undefined;
}

/** Every area's `@requiresFreshAuth` fields, merged, and their refusal listeners as one. */
export function areaDirectives(areas: readonly Area[]): { freshAuthFields: Record<string, number>; onScopeRefused: NonNullable<AreaDirectives['onScopeRefused']> } {
  const freshAuthFields: Record<string, number> = {};
  const listeners: NonNullable<AreaDirectives['onScopeRefused']>[] = [];
  for (const area of areas) {
    Object.assign(freshAuthFields, area.directives?.freshAuthFields);
    if (area.directives?.onScopeRefused) listeners.push(area.directives.onScopeRefused);
  }
  return { freshAuthFields, onScopeRefused: (context, field, reason) => listeners.forEach((listener) => listener(context, field, reason)) };
}
