// urql 6 (@urql/core) against a graphql-revoke API. urql sends queries as GET by default
// (preferGetMethod: 'within-url-limit'), which the API refuses without a preflight header
// (Apollo's CSRF prevention): send POST. The token goes in fetchOptions, read per request.
import { Client, fetchExchange, mapExchange } from '@urql/core';

/** What the recipe needs from your app. */
export interface Session {
  getToken(): string | null;
  signOut(reason: string): void;
}

export function createClient(url: string, session: Session): Client {
  return new Client({
    url,
    preferGetMethod: false,
    fetchOptions: (): RequestInit => {
      const token = session.getToken();
      return { headers: token ? { authorization: `Bearer ${token}` } : {} };
    },
    exchanges: [
      mapExchange({
        onError(error) {
          // A refused token fails the whole request (HTTP 401): its reason says why.
          const reason = error.graphQLErrors[0]?.extensions?.reason;
          if (error.response?.status === 401 && typeof reason === 'string') session.signOut(reason);
          // 503 AUTH_UNAVAILABLE (extensions.retryAfterSeconds): re-run the query after that long,
          // e.g. with @urql/exchange-retry and retryIf: (e) => e.response?.status === 503.
        },
      }),
      fetchExchange,
    ],
  });
}
