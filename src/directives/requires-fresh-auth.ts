/**
 * `@requiresFreshAuth(maxAge: Int!)`: step-up freshness. A stolen but valid session can do
 * what the user can; the most sensitive fields also ask that the user proved their password
 * recently. "Recently" is read from the token's `auth_time` claim: the time of the last
 * password check (sign-in, sign-up, changePassword, reauthenticate), which a session keeps
 * unchanged across refreshes, so refreshing never makes a session fresh again.
 *
 * Time: `auth_time` is stamped with the session store's clock (Redis TIME), and compared here
 * with this instance's clock. An instance that runs behind Redis (at most MAX_CLOCK_SKEW
 * before it stops serving) sees a check that many seconds fresher than it is: choose maxAge
 * with that in mind (it is minutes, the skew seconds).
 */
import { getDirective, MapperKind, mapSchema } from '@graphql-tools/utils';
import { defaultFieldResolver, isInterfaceType, isObjectType, type GraphQLFieldConfig, type GraphQLSchema } from 'graphql';
import { systemClock, type Clock } from '../auth/token.js';
import { insufficientUserAuthenticationError, unauthenticatedFieldError } from '../errors.js';
import { warnNullBubbling, type WarningHandler } from './null-bubbling.js';

/** Options of {@link requiresFreshAuthDirectiveTransformer}. Every one has a default. */
export interface RequiresFreshAuthDirectiveOptions<TContext> {
  /** The directive's name in the SDL. Default 'requiresFreshAuth'. */
  directiveName?: string;
  /**
   * Tells whether the request is authenticated; an anonymous request gets UNAUTHENTICATED /
   * TOKEN_MISSING, like `@authenticated`. Default: `context.auth.kind === 'authenticated'`.
   */
  isAuthenticated?: (context: TContext) => boolean;
  /**
   * The time of the caller's last password check, in seconds since the epoch; undefined when
   * the token says nothing of it (then the field is refused, as too old). Default:
   * `context.auth.token.authTime`, which our verifier reads from the `auth_time` claim.
   * Synchronous, no I/O.
   */
  getAuthTime?: (context: TContext) => number | undefined;
  /**
   * Freshness required of fields by coordinate (`'Mutation.deleteAccount': 300`), as if they
   * carried the directive: for a schema you do not write yourself (our admin mutations use it,
   * with ADMIN_FRESH_AUTH_MAX_AGE). A coordinate the schema lacks throws here.
   */
  fields?: Readonly<Record<string, number>>;
  /** Default Date.now. */
  now?: Clock;
  /**
   * Told, at schema build time, of each guarded non-null field whose null would bubble up
   * (see findNullBubblingFields). Default console.warn. Pass `() => {}` to silence.
   */
  onWarning?: WarningHandler;
}

/** The directive's SDL, to add to your type definitions. */
export function requiresFreshAuthDirectiveTypeDefs(directiveName = 'requiresFreshAuth'): string {
  return `directive @${directiveName}(maxAge: Int!) on OBJECT | FIELD_DEFINITION | INTERFACE`;
}

/** The SDL of the default `@requiresFreshAuth` directive. */
export const REQUIRES_FRESH_AUTH_DIRECTIVE_TYPE_DEFS = requiresFreshAuthDirectiveTypeDefs();

function defaultIsAuthenticated(context: unknown): boolean {
  return (context as { auth?: { kind?: string } } | undefined)?.auth?.kind === 'authenticated';
}

function defaultGetAuthTime(context: unknown): number | undefined {
  return (context as { auth?: { token?: { authTime?: number } } } | undefined)?.auth?.token?.authTime;
}

function checkMaxAge(value: unknown, where: string, name: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
    throw new Error(`@${name} on ${where}: maxAge must be an integer >= 0 (seconds), got ${String(value)}`);
  }
  return value;
}

/**
 * Returns a copy of `schema` in which every field that carries the directive, belongs to a
 * type or interface that carries it, or implements an interface field that carries it (or is
 * named in `options.fields`), resolves only when the caller's last password check is at most
 * `maxAge` seconds old:
 *
 * - anonymous: null with UNAUTHENTICATED / TOKEN_MISSING at the field's path;
 * - older, or no auth_time: null with INSUFFICIENT_USER_AUTHENTICATION and `extensions.maxAge`
 *   at the field's path; the rest of the response is served.
 *
 * Where it applies in several places, the smallest maxAge wins (every one must hold). The
 * maxAge is read and checked once, here; per request a field costs one clock read and a
 * comparison. Composes with `@authenticated` and `@requiresScopes` in any order.
 */
export function requiresFreshAuthDirectiveTransformer<TContext = unknown>(
  schema: GraphQLSchema,
  options: RequiresFreshAuthDirectiveOptions<TContext> = {},
): GraphQLSchema {
  const name = options.directiveName ?? 'requiresFreshAuth';
  const isAuthenticated = (options.isAuthenticated ?? defaultIsAuthenticated) as (context: unknown) => boolean;
  const getAuthTime = (options.getAuthTime ?? defaultGetAuthTime) as (context: unknown) => number | undefined;
  const now = options.now ?? systemClock;
  if (!schema.getDirective(name)) {
    throw new Error(`The schema does not declare @${name}: add requiresFreshAuthDirectiveTypeDefs('${name}') to its type definitions`);
  }
  const byCoordinate = new Map<string, number>();
  for (const [coordinate, maxAge] of Object.entries(options.fields ?? {})) {
    const [typeName, fieldName, extra] = coordinate.split('.');
    const type = typeName ? schema.getType(typeName) : undefined;
    if (extra !== undefined || !fieldName || !(isObjectType(type) || isInterfaceType(type)) || !type.getFields()[fieldName]) {
      throw new Error(`requiresFreshAuthDirectiveTransformer: fields names ${JSON.stringify(coordinate)}, which is no field of the schema`);
    }
    byCoordinate.set(coordinate, checkMaxAge(maxAge, coordinate, name));
  }
  warnNullBubbling(schema, name, options.onWarning ?? console.warn);

  function maxAgesOf(node: Parameters<typeof getDirective>[1], where: string): number[] {
    return (getDirective(schema, node, name) ?? []).map((args) => checkMaxAge(args.maxAge, where, name));
  }

  /** The smallest maxAge that applies to the field, or undefined when none does. */
  function maxAgeFor(field: GraphQLFieldConfig<unknown, unknown>, fieldName: string, typeName: string): number | undefined {
    const found = maxAgesOf(field, `${typeName}.${fieldName}`);
    const configured = byCoordinate.get(`${typeName}.${fieldName}`);
    if (configured !== undefined) found.push(configured);
    const type = schema.getType(typeName);
    if (type && (isObjectType(type) || isInterfaceType(type))) {
      found.push(...maxAgesOf(type, typeName));
      for (const iface of type.getInterfaces()) {
        found.push(...maxAgesOf(iface, iface.name));
        const inherited = iface.getFields()[fieldName];
        if (inherited) found.push(...maxAgesOf(inherited, `${iface.name}.${fieldName}`));
        const inheritedConfigured = byCoordinate.get(`${iface.name}.${fieldName}`);
        if (inheritedConfigured !== undefined) found.push(inheritedConfigured);
      }
    }
    return found.length > 0 ? Math.min(...found) : undefined;
  }

  function check(context: unknown, maxAge: number): void {
    if (!isAuthenticated(context)) throw unauthenticatedFieldError('TOKEN_MISSING');
    const authTime = getAuthTime(context);
    // No auth_time: nothing proves a recent check, so the field is refused as too old.
    if (typeof authTime !== 'number' || !Number.isFinite(authTime) || now() / 1000 - authTime > maxAge) {
      throw insufficientUserAuthenticationError(maxAge);
    }
  }

  return mapSchema(schema, {
    [MapperKind.OBJECT_FIELD]: (fieldConfig, fieldName, typeName) => {
      const maxAge = maxAgeFor(fieldConfig, fieldName, typeName);
      if (maxAge === undefined) return fieldConfig;
      const { resolve = defaultFieldResolver, subscribe } = fieldConfig;
      return {
        ...fieldConfig,
        resolve(source, args, context, info) {
          check(context, maxAge);
          return resolve(source, args, context, info);
        },
        ...(subscribe
          ? {
              subscribe(source, args, context, info) {
                check(context, maxAge);
                return subscribe(source, args, context, info);
              },
            }
          : {}),
      };
    },
  });
}
