import type { ApolloServerPlugin, BaseContext } from '@apollo/server';
import { ApolloArmor } from '@escape.tech/graphql-armor';
import type { ParseOptions, ValidationRule } from 'graphql';
import { fieldCallLimitRule } from './field-call-limit.js';

/** The limits on GraphQL documents; every one has a default (see docs/security.md). */
export interface GraphQLLimitOptions {
  /** Deepest selection, introspection excepted. Default 10. */
  maxDepth?: number;
  /** Aliases per operation. Default 15. */
  maxAliases?: number;
  /** Lexer tokens per document, counted while parsing (graphql-js's own parse option). Default 1000. */
  maxTokens?: number;
  /** graphql-armor's cost (objects 2, scalars 1, x1.5 per level). Default 5000. */
  maxCost?: number;
  /** Directives per operation. Default 50. */
  maxDirectives?: number;
  /** Mutation fields that may appear at most once per document. Default signIn and signUp. */
  oncePerRequest?: readonly string[];
  /** Strip "Did you mean ...?" from error messages (they reveal the schema). Default false. */
  hideSuggestions?: boolean;
}

/** What to spread into `new ApolloServer({...})`. */
export interface GraphQLLimits<TContext extends BaseContext> {
  validationRules: ValidationRule[];
  plugins: ApolloServerPlugin<TContext>[];
  parseOptions: ParseOptions;
}

const SUGGESTION = / ?Did you mean [^?]*\?/g;

/**
 * Removes graphql-js's "Did you mean ...?" from every error message. (graphql-armor's Apollo
 * variant of this protection leaves the trailing "?" behind, hence this one.)
 */
export function hideSuggestionsPlugin<TContext extends BaseContext>(): ApolloServerPlugin<TContext> {
  return {
    async requestDidStart() {
      return {
        async didEncounterErrors({ errors }) {
          for (const error of errors) {
            if (error.message.includes('Did you mean')) (error as { message: string }).message = error.message.replace(SUGGESTION, '');
          }
        },
      };
    },
  };
}

/**
 * Depth, alias, cost and directive limits (graphql-armor's validation rules), a token limit
 * (graphql-js's parse option: the document is never parsed twice), a once-per-request rule
 * for signIn/signUp, and optionally hidden suggestions. Validation rules run only when a
 * document is first seen: Apollo caches validated documents, so the hot path pays nothing.
 */
export function createGraphQLLimits<TContext extends BaseContext>(options: GraphQLLimitOptions = {}): GraphQLLimits<TContext> {
  const armor = new ApolloArmor({
    maxDepth: { n: options.maxDepth ?? 10 },
    maxAliases: { n: options.maxAliases ?? 15 },
    costLimit: { maxCost: options.maxCost ?? 5000 },
    maxDirectives: { n: options.maxDirectives ?? 50 },
    // Counted by graphql-js's parser itself (parseOptions below) rather than by a second parse.
    maxTokens: { enabled: false },
    blockFieldSuggestion: { enabled: false },
  }).protect();
  const once = options.oncePerRequest ?? ['signIn', 'signUp'];
  return {
    validationRules: [...armor.validationRules, fieldCallLimitRule(Object.fromEntries(once.map((name) => [name, 1])))],
    plugins: [...(armor.plugins as ApolloServerPlugin<TContext>[]), ...(options.hideSuggestions ? [hideSuggestionsPlugin<TContext>()] : [])],
    parseOptions: { maxTokens: options.maxTokens ?? 1000 },
  };
}
