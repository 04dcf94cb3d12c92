/**
 * The request pipeline of a transport that was handed a host's own validation rules and parse
 * options (what the host gave Apollo from createGraphQLLimits) rather than the pipeline
 * itself: createLiveConnections in a library host that builds its HTTP server apart. The
 * checks, codes and masking are the pipeline's; the rules are exactly the host's, so an
 * operation is judged over the socket as over the host's HTTP endpoint.
 */
import type { ParseOptions, ValidationRule } from 'graphql';
import type { TokenVerifier } from '../auth/token-verifier.js';
import type { AuthOutcome } from '../context/context-builder.js';
import { createDocumentStore } from '../graphql-limits/document-store.js';
import type { RevocationStore } from '../revocation/revocation-store.js';
import { createRequestPipeline, type PipelineLogger, type RequestPipeline, type RequestPipelineOptions } from './request-pipeline.js';

/** Options of {@link createPipelineFromRules}. */
export interface PipelineFromRulesOptions {
  schema: RequestPipelineOptions['schema'];
  verifier: TokenVerifier;
  revocations: RevocationStore;
  /** The host's validation rules, applied to every operation. Default none beyond graphql-js's. */
  validationRules?: readonly ValidationRule[] | undefined;
  /** The host's parse options. Default {}. */
  parseOptions?: ParseOptions | undefined;
  /** Default true; false refuses introspection. */
  introspection?: boolean | undefined;
  /** Strip graphql-js's "Did you mean ...?" from error messages. Default false. */
  hideSuggestions?: boolean | undefined;
  /** Upper bound of a store lookup, ms. Default 1000. */
  lookupTimeoutMs?: number | undefined;
  onOutcome?: ((outcome: AuthOutcome, detail?: string, error?: unknown) => void) | undefined;
  logger?: PipelineLogger | undefined;
}

/** A pipeline over the host's rules (not production-masked: the host's formatError has the last say). */
export function createPipelineFromRules(options: PipelineFromRulesOptions): RequestPipeline {
  return createRequestPipeline({
    schema: options.schema,
    verifier: options.verifier,
    revocations: options.revocations,
    lookupTimeoutMs: options.lookupTimeoutMs ?? 1000,
    ...(options.onOutcome ? { onOutcome: options.onOutcome } : {}),
    limits: { hideSuggestions: options.hideSuggestions ?? false },
    graphqlLimits: {
      validationRules: [...(options.validationRules ?? [])],
      plugins: [],
      parseOptions: options.parseOptions ?? {},
      documentStore: createDocumentStore(),
    },
    introspection: options.introspection ?? true,
    production: false,
    ...(options.logger ? { logger: options.logger } : {}),
  });
}
