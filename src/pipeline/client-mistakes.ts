import type { ApolloServerPlugin, BaseContext, GraphQLRequestContextDidResolveOperation } from '@apollo/server';
import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import { ErrorCode } from '../errors.js';

/**
 * Refuses `subscription` operations sent over HTTP with 400 BAD_REQUEST, once the operation is
 * known and before anything runs. graphql-js would otherwise fail them at execution ("Schema is
 * not configured to execute subscription operation"), which Apollo reports as an internal error.
 */
export function refuseHttpSubscriptionsPlugin<TContext extends BaseContext>(): ApolloServerPlugin<TContext> {
  const started = Promise.resolve({ didResolveOperation: refuseHttpSubscription });
  return { requestDidStart: () => started };
}

/** The `didResolveOperation` hook of {@link refuseHttpSubscriptionsPlugin}. */
export async function refuseHttpSubscription({ operation }: Pick<GraphQLRequestContextDidResolveOperation<BaseContext>, 'operation'>): Promise<void> {
  if (operation?.operation === 'subscription') {
    throw new GraphQLError('Subscriptions are not served over HTTP.', {
      extensions: { code: ErrorCode.BadRequest, http: { status: 400 } },
    });
  }
}

/** Apollo's own refusals that carry an HTTP 4xx status but no code (so they'd read INTERNAL_SERVER_ERROR). */
const KNOWN_MISTAKES: Record<string, ErrorCode> = {
  'Unsupported persisted query version': ErrorCode.PersistedQueryNotSupported,
  'provided sha does not match query': ErrorCode.BadRequest,
};

function httpStatusOf(error: unknown): number | undefined {
  const extensions = (error as { extensions?: { http?: { status?: unknown } } } | null)?.extensions;
  const status = extensions?.http?.status;
  return typeof status === 'number' ? status : undefined;
}

/**
 * The stable code of a client's mistake that Apollo formatted as INTERNAL_SERVER_ERROR, or
 * undefined for a real fault. A mistake is an error the request pipeline raised with a 4xx
 * status of its own (a persisted-query version we don't speak, a hash that does not match its
 * query): PERSISTED_QUERY_NOT_SUPPORTED for the version, BAD_REQUEST for the others.
 */
export function clientMistakeCode(formatted: GraphQLFormattedError, error: unknown): ErrorCode | undefined {
  if (formatted.extensions?.code !== 'INTERNAL_SERVER_ERROR') return undefined;
  const status = httpStatusOf(error);
  if (status === undefined || status < 400 || status > 499) return undefined;
  return KNOWN_MISTAKES[formatted.message] ?? ErrorCode.BadRequest;
}
