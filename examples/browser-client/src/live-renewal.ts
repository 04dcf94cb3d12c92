// Keep a graphql-ws connection authenticated without reconnecting: each time the app gets a
// new access token (a refresh, a reauthenticate), it sends it over the socket with the
// renewConnection mutation. The socket and every subscription on it go on; the server then
// judges the socket by the new token (its exp, its revocation).
import type { Client } from 'graphql-ws/client';

const RENEW = 'mutation RenewConnection($accessToken: String!) { renewConnection(accessToken: $accessToken) }';

/** Why the server refused a renewal (`extensions.reason`), or the code when there is no reason. */
export class RenewalRefusedError extends Error {
  constructor(readonly reason: string) {
    super(`renewConnection refused: ${reason}`);
  }
}

/**
 * Sends `accessToken` over the connection. Resolves once the server judges the socket by it;
 * rejects with {@link RenewalRefusedError} when refused (the socket keeps its old token: a
 * token of another session, a revoked one; TOKEN_EXPIRED when the socket's own token was
 * already past its exp, and then the server closes the socket with 4403 and graphql-ws
 * reconnects with connectionParams, which should read the app's newest token).
 */
export function renewConnection(client: Client, accessToken: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let refusal: RenewalRefusedError | undefined;
    client.subscribe<{ renewConnection: boolean }>(
      { query: RENEW, variables: { accessToken } },
      {
        next: ({ data, errors }) => {
          const extensions = errors?.[0]?.extensions ?? {};
          if (!data?.renewConnection) refusal = new RenewalRefusedError(String(extensions.reason ?? extensions.code ?? 'UNKNOWN'));
        },
        // The socket closed before the answer: the reconnection authenticates with the newest token anyway.
        error: (error) => reject(error instanceof Error ? error : new Error('the connection closed before renewConnection answered')),
        complete: () => (refusal ? reject(refusal) : resolve()),
      },
    );
  });
}

/** What {@link renewOnNewToken} tells the app. */
export interface RenewalHandlers {
  /** The socket is judged by this token from now on. */
  onRenewed?: (accessToken: string) => void;
  /** A renewal was refused or could not be sent (the socket keeps its token, or reconnects). */
  onError?: (error: unknown) => void;
}

/**
 * Renews the connection whenever the app has a new access token. Call the returned function
 * from the place that stores a refreshed token; renewals are sent one at a time, the newest
 * token last (a token superseded while one is in flight is skipped).
 */
export function renewOnNewToken(client: Client, handlers: RenewalHandlers = {}): (accessToken: string) => Promise<void> {
  let inFlight: Promise<void> = Promise.resolve();
  let latest: string | undefined;
  return (accessToken) => {
    latest = accessToken;
    inFlight = inFlight.then(async () => {
      if (latest !== accessToken) return; // a newer token follows
      try {
        await renewConnection(client, accessToken);
        handlers.onRenewed?.(accessToken);
      } catch (error) {
        handlers.onError?.(error);
      }
    });
    return inFlight;
  };
}
