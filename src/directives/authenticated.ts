import { getDirective, MapperKind, mapSchema } from '@graphql-tools/utils';
import {
  defaultFieldResolver,
  isInterfaceType,
  isObjectType,
  type GraphQLFieldConfig,
  type GraphQLSchema,
} from 'graphql';
import { unauthenticatedFieldError } from '../errors.js';

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
  const marked = (node: Parameters<typeof getDirective>[1]): boolean => Boolean(getDirective(schema, node, name)?.length);

  function isProtected(field: GraphQLFieldConfig<unknown, unknown>, fieldName: string, typeName: string): boolean {
    if (marked(field)) return true;
    const type = schema.getType(typeName);
    if (!type || !(isObjectType(type) || isInterfaceType(type))) return false;
    if (marked(type)) return true;
    return type.getInterfaces().some((iface) => {
      const inherited = iface.getFields()[fieldName];
      return marked(iface) || (inherited !== undefined && marked(inherited));
    });
  }

  return mapSchema(schema, {
    [MapperKind.OBJECT_FIELD]: (fieldConfig, fieldName, typeName) => {
      if (!isProtected(fieldConfig, fieldName, typeName)) return fieldConfig;
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
