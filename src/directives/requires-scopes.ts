import { getDirective, MapperKind, mapSchema } from '@graphql-tools/utils';
import {
  defaultFieldResolver,
  isInterfaceType,
  isObjectType,
  type GraphQLFieldConfig,
  type GraphQLSchema,
} from 'graphql';
import { insufficientScopeError, unauthenticatedFieldError } from '../errors.js';
import { warnNullBubbling, type WarningHandler } from './null-bubbling.js';

/**
 * What a scope reader returns: the scopes of the request's token, as a list, a Set, or the
 * raw claim (a space-separated string). `undefined` or `null`: no scopes.
 */
export type ScopeReaderResult = readonly string[] | ReadonlySet<string> | string | null | undefined;

/** Options of {@link requiresScopesDirectiveTransformer}. Every one has a default. */
export interface RequiresScopesDirectiveOptions<TContext> {
  /** The directive's name in the SDL. Default 'requiresScopes'. */
  directiveName?: string;
  /**
   * Tells whether the request is authenticated; an anonymous request gets UNAUTHENTICATED /
   * TOKEN_MISSING, like `@authenticated`. Default: `context.auth.kind === 'authenticated'`.
   * Synchronous, no I/O.
   */
  isAuthenticated?: (context: TContext) => boolean;
  /**
   * Reads the scopes the request's token grants. Default: `context.auth.token.scopes`, which
   * our verifier fills from the `scope` claim (a space-separated string or an array). Give
   * your own when your tokens carry them elsewhere, e.g. a `permissions` claim:
   * `(context) => context.jwt?.permissions`. Synchronous, no I/O: the context builder has
   * verified the token once for the whole request.
   */
  getScopes?: (context: TContext) => ScopeReaderResult;
  /**
   * Told, at schema build time, of each guarded non-null field: refused, its null would bubble
   * up to the parent, or make the whole `data` null (see findNullBubblingFields). Default
   * console.warn. Pass `() => {}` to silence, or your logger.
   */
  onWarning?: WarningHandler;
  /**
   * Told of each refusal (no token, or a token without the scopes), with the field
   * (`Type.field`) and the reason: for an audit line. No I/O is awaited; a throw is ignored.
   */
  onRefused?: (context: TContext, field: string, reason: 'TOKEN_MISSING' | 'INSUFFICIENT_SCOPE') => void;
}

/** The directive's SDL, to add to your type definitions. */
export function requiresScopesDirectiveTypeDefs(directiveName = 'requiresScopes'): string {
  return `directive @${directiveName}(scopes: [[String!]!]!) on OBJECT | FIELD_DEFINITION | INTERFACE`;
}

/** The SDL of the default `@requiresScopes` directive. */
export const REQUIRES_SCOPES_DIRECTIVE_TYPE_DEFS = requiresScopesDirectiveTypeDefs();

/**
 * One `scopes:` argument: the outer list is OR, each inner list AND (Apollo Router's
 * semantics). `[["a", "b"], ["c"]]`: (a and b) or c.
 */
export type ScopeRequirement = readonly (readonly string[])[];

/**
 * Whether `granted` satisfies every requirement in `requirements` (one per place the
 * directive applies: the field, its type, an interface). Each requirement is satisfied when
 * `granted` holds every scope of at least one of its inner lists.
 */
export function scopesSatisfy(requirements: readonly ScopeRequirement[], granted: ReadonlySet<string>): boolean {
  return requirements.every((anyOf) => anyOf.some((allOf) => allOf.every((scope) => granted.has(scope))));
}

const NO_SCOPES: ReadonlySet<string> = new Set();

/** The reader's answer as a Set. A string is a `scope` claim: split on spaces. */
function toScopeSet(value: ScopeReaderResult): ReadonlySet<string> {
  if (value === undefined || value === null) return NO_SCOPES;
  if (typeof value === 'string') return new Set(value.split(' ').filter((scope) => scope.length > 0));
  if (value instanceof Set) return value;
  return new Set(value as readonly string[]);
}

function defaultIsAuthenticated(context: unknown): boolean {
  return (context as { auth?: { kind?: string } } | undefined)?.auth?.kind === 'authenticated';
}

function defaultGetScopes(context: unknown): ScopeReaderResult {
  return (context as { auth?: { token?: { scopes?: readonly string[] } } } | undefined)?.auth?.token?.scopes;
}

/**
 * Returns a copy of `schema` in which every field that carries the directive, belongs to a
 * type or interface that carries it, or implements an interface field that carries it,
 * resolves only for a token holding the required scopes:
 *
 * - anonymous: null with UNAUTHENTICATED / TOKEN_MISSING at the field's path;
 * - authenticated without the scopes: null with FORBIDDEN / INSUFFICIENT_SCOPE at the
 *   field's path; the rest of the response is served.
 *
 * Where the directive applies in several places (a field and its type, say), every one of
 * them must be satisfied. The requirements are read and checked here, once, at schema build
 * time (an empty `scopes: []`, which nobody could satisfy, is refused); per request a field
 * costs the scope reader and a few Set lookups. Composes with `@authenticated` in either order.
 */
export function requiresScopesDirectiveTransformer<TContext = unknown>(
  schema: GraphQLSchema,
  options: RequiresScopesDirectiveOptions<TContext> = {},
): GraphQLSchema {
  const name = options.directiveName ?? 'requiresScopes';
  const isAuthenticated = (options.isAuthenticated ?? defaultIsAuthenticated) as (context: unknown) => boolean;
  const getScopes = (options.getScopes ?? defaultGetScopes) as (context: unknown) => ScopeReaderResult;
  if (!schema.getDirective(name)) {
    throw new Error(`The schema does not declare @${name}: add requiresScopesDirectiveTypeDefs('${name}') to its type definitions`);
  }
  warnNullBubbling(schema, name, options.onWarning ?? console.warn);

  function requirementsOf(node: Parameters<typeof getDirective>[1], where: string): ScopeRequirement[] {
    const uses = getDirective(schema, node, name) ?? [];
    return uses.map((args) => {
      const scopes = args.scopes as string[][] | undefined;
      if (!Array.isArray(scopes) || scopes.length === 0) {
        throw new Error(`@${name} on ${where} has an empty scopes list: nobody could satisfy it`);
      }
      return scopes.map((allOf) => Object.freeze([...allOf]));
    });
  }

  function requirementsFor(field: GraphQLFieldConfig<unknown, unknown>, fieldName: string, typeName: string): ScopeRequirement[] {
    const found = requirementsOf(field, `${typeName}.${fieldName}`);
    const type = schema.getType(typeName);
    if (type && (isObjectType(type) || isInterfaceType(type))) {
      found.push(...requirementsOf(type, typeName));
      for (const iface of type.getInterfaces()) {
        found.push(...requirementsOf(iface, iface.name));
        const inherited = iface.getFields()[fieldName];
        if (inherited) found.push(...requirementsOf(inherited, `${iface.name}.${fieldName}`));
      }
    }
    return found;
  }

  const onRefused = options.onRefused as ((context: unknown, field: string, reason: 'TOKEN_MISSING' | 'INSUFFICIENT_SCOPE') => void) | undefined;
  function refused(context: unknown, field: string, reason: 'TOKEN_MISSING' | 'INSUFFICIENT_SCOPE'): void {
    try {
      onRefused?.(context, field, reason);
    } catch {
      // An audit hook never changes the answer.
    }
  }

  function check(context: unknown, requirements: readonly ScopeRequirement[], field: string): void {
    if (!isAuthenticated(context)) {
      refused(context, field, 'TOKEN_MISSING');
      throw unauthenticatedFieldError('TOKEN_MISSING');
    }
    if (!scopesSatisfy(requirements, toScopeSet(getScopes(context)))) {
      refused(context, field, 'INSUFFICIENT_SCOPE');
      throw insufficientScopeError();
    }
  }

  return mapSchema(schema, {
    [MapperKind.OBJECT_FIELD]: (fieldConfig, fieldName, typeName) => {
      const requirements = Object.freeze(requirementsFor(fieldConfig, fieldName, typeName));
      if (requirements.length === 0) return fieldConfig;
      const { resolve = defaultFieldResolver, subscribe } = fieldConfig;
      const field = `${typeName}.${fieldName}`;
      return {
        ...fieldConfig,
        resolve(source, args, context, info) {
          check(context, requirements, field);
          return resolve(source, args, context, info);
        },
        ...(subscribe
          ? {
              subscribe(source, args, context, info) {
                check(context, requirements, field);
                return subscribe(source, args, context, info);
              },
            }
          : {}),
      };
    },
  });
}
