// graphql-request 7 against a graphql-revoke API: POST (the API refuses a GET without a
// preflight header: Apollo's CSRF prevention), the token on every request, and the answers
// read from the HTTP status, the `reason` and Retry-After.
import { ClientError, GraphQLClient, type Variables } from 'graphql-request';

/** What the recipe needs from your app. */
export interface Session {
  getToken(): string | null;
  /** Gets a new access token (your refresh call), or null when that is not possible. */
  refresh(): Promise<string | null>;
  signOut(reason: string): void;
}

export function createClient(url: string, session: Session): GraphQLClient {
  return new GraphQLClient(url, {
    method: 'POST',
    headers: (): Record<string, string> => {
      const token = session.getToken();
      return token ? { authorization: `Bearer ${token}` } : {};
    },
  });
}

const sleep = (seconds: number) => new Promise((resolve) => setTimeout(resolve, seconds * 1000));

/** Runs one operation: refreshes once on TOKEN_EXPIRED, signs out on any other 401, retries a 503. */
export async function call<T>(client: GraphQLClient, session: Session, document: string, variables?: Variables, attempt = 0): Promise<T> {
  try {
    return await client.request<T>(document, variables);
  } catch (error) {
    if (!(error instanceof ClientError)) throw error;
    const { status, headers, errors } = error.response;
    const reason = String(errors?.[0]?.extensions?.reason ?? '');
    // 401: the token of this request was refused (TOKEN_EXPIRED, TOKEN_REVOKED, TOKEN_INVALID).
    if (status === 401) {
      if (reason === 'TOKEN_EXPIRED' && attempt === 0 && (await session.refresh())) return call(client, session, document, variables, 1);
      session.signOut(reason);
      throw error;
    }
    // 503 AUTH_UNAVAILABLE: the token store is away for a moment; Retry-After says when to come back.
    if (status === 503 && attempt < 3) {
      await sleep(Number(headers.get('retry-after')) || 1);
      return call(client, session, document, variables, attempt + 1);
    }
    // Anything else, INVALID_CREDENTIALS from signIn included (a 200), is the caller's to show.
    throw error;
  }
}
