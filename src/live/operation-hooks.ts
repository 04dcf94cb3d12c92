/**
 * The core of the live endpoint: graphql-ws's hooks, which say what one socket's messages
 * do. Every check an operation goes through comes from elsewhere — the per-socket guard
 * (rate, running operations), the request pipeline (parse, validation, variables, masking:
 * the HTTP path's), the socket's authentication (one lookup, as one HTTP request) — in the
 * order that makes a refused operation cheapest. The subscription fast path
 * (./subscription-fast-path.ts) serves through these same hooks.
 */
import type { ExecutionArgs, ExecutionResult, GraphQLError, GraphQLFormattedError, GraphQLSchema } from 'graphql';
import type { ServerOptions, SubscribePayload } from 'graphql-ws';
import type { RequestPipeline } from '../pipeline/request-pipeline.js';
import type { Extra, LiveWsContext } from './live-socket.js';
import type { SocketAuth } from './socket-auth.js';
import type { SocketGuard } from './socket-guard.js';
import type { FastPathHooks } from './subscription-fast-path.js';

/** Options of {@link createOperationHooks}. */
export interface OperationHooksOptions {
  schema: GraphQLSchema;
  pipeline: Pick<RequestPipeline, 'prepare' | 'formatError'>;
  guard: Pick<SocketGuard, 'checkOperation' | 'noteActivity'>;
  auth: Pick<SocketAuth, 'connect' | 'operationContext'>;
  /** Last say on every error sent (the host's), after the pipeline's masking. */
  formatError?: ((formatted: GraphQLFormattedError, error: unknown) => GraphQLFormattedError) | undefined;
}

/** graphql-ws's hooks of the live endpoint (the fast path's too). */
export type OperationHooks = Required<Pick<ServerOptions<Record<string, unknown>, Extra>, 'onConnect' | 'onSubscribe' | 'onComplete' | 'onNext' | 'onError'>> & FastPathHooks<Extra>;

/** Builds the hooks. */
export function createOperationHooks(options: OperationHooksOptions): OperationHooks {
  const { schema, pipeline, guard, auth } = options;

  /** Apollo's codes for what graphql-js reports without one, then the pipeline's masking (the HTTP path's), then the host's. */
  function formatErrors(errors: readonly GraphQLError[], fallbackCode: string): GraphQLFormattedError[] {
    return errors.map((error) => {
      const json = error.toJSON();
      const { http: _http, ...extensions } = (json.extensions ?? {}) as Record<string, unknown>;
      const formatted = pipeline.formatError({ ...json, extensions: { ...extensions, code: extensions.code ?? fallbackCode } }, error);
      return options.formatError ? options.formatError(formatted, error) : formatted;
    });
  }

  return {
    onConnect: (ctx: LiveWsContext) => auth.connect(ctx),
    async onSubscribe(ctx: LiveWsContext, _id: string, payload: SubscribePayload): Promise<ExecutionArgs | GraphQLError[]> {
      const socket = ctx.extra.live;
      // This operation is already counted in ctx.subscriptions.
      const refused = guard.checkOperation(socket, Object.keys(ctx.subscriptions).length);
      if (refused) return refused;
      const prepared = pipeline.prepare(payload);
      if (Array.isArray(prepared)) return prepared;
      const contextValue = await auth.operationContext(socket);
      if (Array.isArray(contextValue)) return contextValue;
      return {
        schema,
        document: prepared.document,
        contextValue,
        ...(payload.operationName ? { operationName: payload.operationName } : {}),
        ...(payload.variables ? { variableValues: payload.variables } : {}),
      };
    },
    onComplete(ctx: LiveWsContext) {
      guard.noteActivity(ctx.extra.live);
    },
    onNext(_ctx: unknown, _id: string, _payload: unknown, _args: unknown, result: ExecutionResult) {
      if (!result.errors?.length) return;
      return { ...result, errors: formatErrors(result.errors as readonly GraphQLError[], 'INTERNAL_SERVER_ERROR') };
    },
    onError(_ctx: unknown, _id: string, _payload: unknown, errors: readonly GraphQLError[]) {
      return formatErrors(errors, 'BAD_REQUEST');
    },
  };
}
