import { getDirective, MapperKind, mapSchema } from '@graphql-tools/utils';
import { defaultFieldResolver, isObjectType, type GraphQLSchema } from 'graphql';
import { unauthenticatedFieldError } from '../errors.js';
import { createProtectionCheck, warnNullBubbling, type WarningHandler } from './null-bubbling.js';

/** Options of {@link authenticatedDirectiveTransformer}. */
export interface AuthenticatedDirectiveOptions<TContext> {
  /** The directive's name in the SDL. Default 'authenticated'. */
  directiveName?: string;
  /**
   * Tells whether the request is authenticated. Default: `context.auth.kind === 'authenticated'`,
   * as set by the project's context builder. Must be synchronous and do no I/O: the
   * context builder has already verified the token once for the whole request.
   */
  isAuthenticated?: (context: TContext) => boolean;
  /**
   * Told, once per field at schema build time, of each protected non-null field that an
   * anonymous request can reach: its null would bubble up to the parent, or make the whole
   * `data` null (see findNullBubblingFields). Default console.warn. Pass `() => {}` to silence,
   * or your logger; throw from it to make such a schema fail to build.
   */
  onWarning?: WarningHandler;
}

/** The directive's SDL, to add to your type definitions. */
export function authenticatedDirectiveTypeDefs(directiveName = 'authenticated'): string {
  return `directive @${directiveName} on OBJECT | FIELD_DEFINITION | INTERFACE`;
}

/** The SDL of the default `@authenticated` directive. */
export const AUTHENTICATED_DIRECTIVE_TYPE_DEFS = authenticatedDirectiveTypeDefs();

function defaultIsAuthenticated(context: unknown): boolean {
  return (context as { auth?: { kind?: string } } | undefined)?.auth?.kind === 'authenticated';
}

/**
 * Returns a copy of `schema` in which every field marked with the directive, every field
 * of a type or interface marked with it, and every field that implements a marked
 * interface field, refuses anonymous requests: it resolves to null with an
 * UNAUTHENTICATED / TOKEN_MISSING error at its path, and the rest of the response is
 * served. The wrapping happens once, here; per request it costs one property read.
 */
export function authenticatedDirectiveTransformer<TContext = unknown>(
  schema: GraphQLSchema,
  options: AuthenticatedDirectiveOptions<TContext> = {},
): GraphQLSchema {
  const name = options.directiveName ?? 'authenticated';
  const isAuthenticated = (options.isAuthenticated ?? defaultIsAuthenticated) as (context: unknown) => boolean;
  if (!schema.getDirective(name)) {
    throw new Error(`The schema does not declare @${name}: add authenticatedDirectiveTypeDefs('${name}') to its type definitions`);
  }
  const isProtected = createProtectionCheck(schema, name);
  warnNullBubbling(schema, name, options.onWarning ?? console.warn);

  return mapSchema(schema, {
    [MapperKind.OBJECT_FIELD]: (fieldConfig, fieldName, typeName) => {
      const type = schema.getType(typeName);
      const field = isObjectType(type) ? type.getFields()[fieldName] : undefined;
      if (!isObjectType(type) || !field || !isProtected(type, field)) return fieldConfig;
      const { resolve = defaultFieldResolver, subscribe } = fieldConfig;
      return {
        ...fieldConfig,
        resolve(source, args, context, info) {
          if (!isAuthenticated(context)) throw unauthenticatedFieldError('TOKEN_MISSING');
          return resolve(source, args, context, info);
        },
        ...(subscribe
          ? {
              subscribe(source, args, context, info) {
                if (!isAuthenticated(context)) throw unauthenticatedFieldError('TOKEN_MISSING');
                return subscribe(source, args, context, info);
              },
            }
          : {}),
      };
    },
  });
}
