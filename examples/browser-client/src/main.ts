// A browser app on another origin than the API: sign in, ask `me`, refresh an expired access
// token without the user noticing, watch my sessions live over a WebSocket (one socket for as
// long as the page lives: renewed in-band with every new token), sign out a device or
// everywhere, notice when another device has ended this page's session, and confirm the
// password when an action asks for a recent one (INSUFFICIENT_USER_AUTHENTICATION). Built with
// esbuild (test/browser/ does it); open index.html?api=<the API's /graphql URL>.
import { ApolloClient, ApolloLink, HttpLink, InMemoryCache, gql } from '@apollo/client';
import { CombinedGraphQLErrors } from '@apollo/client/errors';
import { createClient, type Client } from 'graphql-ws/client';
import { createAuthErrorLink, createAuthHeaderLink, type Session } from './auth-link.js';
import { renewOnNewToken } from './live-renewal.js';

const api = new URLSearchParams(location.search).get('api') ?? 'http://localhost:4000/graphql';
/** The live connection: the same URL, over WebSocket (graphql-transport-ws). */
const wsUrl = api.replace(/^http/, 'ws');

/** What signIn and refreshSession return (the fields this app asks for). */
interface AuthPayload {
  accessToken: string;
  expiresAt: string;
  refreshToken: string;
  session: { id: string };
  user: { username: string };
}

// The tokens live in memory only: a reload signs out.
let token: string | null = null;
let refreshToken: string | null = null;
let username: string | null = null;
let sessionId: string | null = null;
/** The refresh in flight, shared by everyone who needs a new token meanwhile. */
let refreshing: Promise<string | null> | null = null;
/** The live connection, while watching my sessions. */
let live: Client | null = null;
/** The access token the live connection authenticated with (or was last renewed with). */
let liveToken: string | null = null;
/** When the access token expires, ms (its expiresAt). */
let tokenExpiresAt = 0;
/** Renews the live socket with a new token (live-renewal.ts), while watching. */
let renewLive: ((accessToken: string) => Promise<void>) | null = null;
/** The refresh ahead of expiry, while watching: the socket must never hold an expired token. */
let refreshTimer: ReturnType<typeof setTimeout> | undefined;

function element<T extends HTMLElement>(id: string): T {
  const found = document.getElementById(id);
  if (!found) throw new Error(`#${id} is missing from the page`);
  return found as T;
}

function render(message?: string): void {
  element('status').textContent = token ? `signed in as ${username}` : 'signed out';
  element('session').textContent = sessionId ?? '';
  if (message !== undefined) element('output').textContent = message;
}

function keep(pair: AuthPayload): void {
  refreshToken = pair.refreshToken;
  sessionId = pair.session.id;
  username = pair.user.username;
  newAccessToken(pair.accessToken, pair.expiresAt);
}

/** Every new access token goes through here: kept, the live socket renewed with it, the next refresh planned. */
function newAccessToken(accessToken: string, expiresAt: string): void {
  token = accessToken;
  tokenExpiresAt = Date.parse(expiresAt);
  void renewLive?.(accessToken);
  scheduleRefresh();
}

/**
 * While a live socket is open, refresh at half the token's remaining lifetime: the socket is
 * renewed before the server would close it at the token's exp. (Plain HTTP calls need no
 * timer: they refresh when refused with TOKEN_EXPIRED.)
 */
function scheduleRefresh(): void {
  clearTimeout(refreshTimer);
  if (!live || !token) return;
  const delay = Math.max(250, (tokenExpiresAt - Date.now()) / 2);
  refreshTimer = setTimeout(() => {
    session.refresh().catch(() => {
      // Not an answer about the session (503, a rate limit): try again in a second.
      refreshTimer = setTimeout(scheduleRefresh, 1000);
    });
  }, delay);
}

function forget(): void {
  token = null;
  refreshToken = null;
  username = null;
  sessionId = null;
  clearTimeout(refreshTimer);
  renewLive = null;
  // dispose() waits for a connection in progress (a retry after a 4403), and that connection
  // fails once signed out (connectionParams refuses it): nothing is left to close then, and the
  // failure must not surface as an unhandled rejection.
  void Promise.resolve(live?.dispose()).catch(() => {});
  live = null;
}

const PAIR = 'accessToken expiresAt refreshToken session { id } user { username }';
const SIGN_IN = gql`
  mutation SignIn($username: String!, $password: String!) {
    signIn(username: $username, password: $password) { ${PAIR} }
  }
`;
const REFRESH = `mutation Refresh($refreshToken: String!) { refreshSession(refreshToken: $refreshToken) { ${PAIR} } }`;
const ME = gql`query Me { me { id username } }`;
const CANCEL_ALL = gql`mutation CancelAll { cancelAllMyTokens }`;
const CANCEL_SESSION = gql`mutation CancelSession($id: ID!) { cancelSession(id: $id) }`;
const CANCEL_USER_TOKENS = gql`mutation CancelUserTokens($id: ID!) { cancelAllUserTokens(userId: $id) }`;
const REAUTHENTICATE = 'mutation Reauthenticate($password: String!) { reauthenticate(password: $password) { accessToken expiresAt } }';
const SESSION_EVENTS = 'subscription SessionEvents { sessionEvents { kind session { id current } } }';

/**
 * One refreshSession call. Sent with fetch, without the Authorization header: an expired
 * token in it would get the whole request refused. Refused because the session is over, it
 * signs out with the reason and gives null; failed otherwise, it throws and keeps the tokens.
 */
async function refreshOnce(): Promise<string | null> {
  const presented = refreshToken;
  if (!presented) return null;
  const response = await fetch(api, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query: REFRESH, variables: { refreshToken: presented } }),
  });
  const body = (await response.json()) as { data?: { refreshSession?: AuthPayload } | null; errors?: { extensions?: Record<string, unknown> }[] };
  const pair = body.data?.refreshSession;
  if (pair) {
    // Signed out or in again meanwhile: this answer belongs to a session we no longer have.
    if (refreshToken !== presented) return token;
    keep(pair);
    render();
    return token;
  }
  const { reason, code } = body.errors?.[0]?.extensions ?? {};
  // The session is over (REFRESH_TOKEN_INVALID, _EXPIRED, _REUSED, ACCOUNT_DISABLED): sign out.
  if (typeof reason === 'string' && (reason.startsWith('REFRESH_TOKEN_') || reason === 'ACCOUNT_DISABLED')) {
    session.signOut(reason);
    return null;
  }
  // Anything else (503 AUTH_UNAVAILABLE, a rate limit) is not an answer about the session: keep the tokens.
  throw new Error(`refreshSession failed: ${String(reason ?? code ?? `HTTP ${response.status}`)}`);
}

/**
 * A field asked for a recent password check (INSUFFICIENT_USER_AUTHENTICATION): ask for the
 * password, call reauthenticate (with this session's token) and keep the token it returns.
 * Null when the user cancels or the password is refused; the link then gives the error to the caller.
 */
async function reauthenticate(maxAge: number): Promise<string | null> {
  const password = prompt(`Confirm your password: this action needs a password check within the last ${maxAge} seconds.`);
  if (!password || !token) return null;
  const response = await fetch(api, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query: REAUTHENTICATE, variables: { password } }),
  });
  const body = (await response.json()) as { data?: { reauthenticate?: { accessToken: string; expiresAt: string } } | null; errors?: { extensions?: Record<string, unknown> }[] };
  const fresh = body.data?.reauthenticate;
  if (!fresh) {
    const { reason, code } = body.errors?.[0]?.extensions ?? {};
    render(`reauthenticate failed: ${String(reason ?? code ?? `HTTP ${response.status}`)}`);
    return null;
  }
  newAccessToken(fresh.accessToken, fresh.expiresAt);
  return token;
}

const session: Session = {
  reauthenticate,
  getToken: () => token,
  refresh() {
    refreshing ??= refreshOnce().finally(() => {
      refreshing = null;
    });
    return refreshing;
  },
  signOut(reason) {
    // The first reason wins: the link signs out again after a refused refresh.
    if (!token && !refreshToken) return;
    forget();
    render(`session ended: ${reason}`);
  },
};

const client = new ApolloClient({
  link: ApolloLink.from([createAuthErrorLink(session), createAuthHeaderLink(session), new HttpLink({ uri: api })]),
  cache: new InMemoryCache(),
});

/** The first error's reason and code, for messages. */
function describe(error: unknown): string {
  if (CombinedGraphQLErrors.is(error)) {
    const { code, reason } = error.errors[0]?.extensions ?? {};
    return String(reason ?? code ?? error.message);
  }
  return error instanceof Error ? error.message : String(error);
}

async function signIn(): Promise<void> {
  const variables = { username: element<HTMLInputElement>('username').value, password: element<HTMLInputElement>('password').value };
  try {
    const { data } = await client.mutate<{ signIn: AuthPayload }>({ mutation: SIGN_IN, variables });
    if (!data) throw new Error('no data');
    forget();
    keep(data.signIn);
    render('signed in');
  } catch (error) {
    // A typo is not a dead session: whoever was signed in stays signed in.
    render(describe(error) === 'INVALID_CREDENTIALS' ? 'wrong username or password' : `sign-in failed: ${describe(error)}`);
  }
}

async function me(): Promise<void> {
  try {
    const { data } = await client.query<{ me: { id: string; username: string } | null }>({ query: ME, fetchPolicy: 'network-only' });
    render(data?.me ? `me: ${data.me.username}` : 'me: nobody');
  } catch (error) {
    // The error link has already signed out on TOKEN_REVOKED; keep its message then.
    if (token) render(`me failed: ${describe(error)}`);
  }
}

async function cancelAll(): Promise<void> {
  try {
    const { data } = await client.mutate<{ cancelAllMyTokens: number }>({ mutation: CANCEL_ALL });
    forget();
    render(`cancelled ${data?.cancelAllMyTokens ?? 0} tokens`);
  } catch (error) {
    if (token) render(`cancel failed: ${describe(error)}`);
  }
}

/** An operator action (needs the tokens:admin scope, and a recent password when ADMIN_FRESH_AUTH_MAX_AGE is set). */
async function cancelUserTokens(): Promise<void> {
  const id = element<HTMLInputElement>('admin-user').value;
  try {
    const { data } = await client.mutate<{ cancelAllUserTokens: number }>({ mutation: CANCEL_USER_TOKENS, variables: { id } });
    render(`cancelAllUserTokens: ${data?.cancelAllUserTokens ?? 0}`);
  } catch (error) {
    if (token) render(`cancelAllUserTokens failed: ${describe(error)}`);
  }
}

/** Signs out another device of mine: its session id, as its page shows it or as mySessions lists it. */
async function cancelSession(): Promise<void> {
  const id = element<HTMLInputElement>('other-session').value;
  try {
    const { data } = await client.mutate<{ cancelSession: boolean }>({ mutation: CANCEL_SESSION, variables: { id } });
    render(`cancelSession: ${data?.cancelSession ?? false}`);
  } catch (error) {
    if (token) render(`cancelSession failed: ${describe(error)}`);
  }
}

function renderLive(state: string): void {
  element('live').textContent = `live: ${state}`;
}

function logEvent(line: string): void {
  const item = document.createElement('li');
  item.textContent = line;
  element('events').append(item);
}

/**
 * The socket was closed. 4403: its token was revoked or has expired. When the page already
 * holds a newer token, graphql-ws reconnects with it; otherwise a refresh decides: a new
 * token and graphql-ws reconnects with it (connectionParams), none and the page is signed
 * out. 1013 (the token store is away) and 1001 (the server restarts): graphql-ws reconnects.
 */
async function liveClosed(code: number, reason: string): Promise<void> {
  renderLive(`closed ${code} ${reason}`.trim());
  if (code !== 4403 || !token || token !== liveToken) return;
  const fresh = await session.refresh().catch(() => null);
  if (!fresh) session.signOut(`socket closed ${code}`);
}

/** Watches my sessions: the `sessionEvents` subscription on a graphql-ws connection. */
function watchSessions(): void {
  if (live || !token) return;
  const client = createClient({
    url: wsUrl,
    // At every (re)connection, so that a reconnection sends the current token.
    connectionParams: async () => {
      const current = refreshing ? await refreshing : token;
      // Signed out: fail the connection (graphql-ws gives up) rather than connect anonymously.
      if (!current) throw new Error('signed out');
      liveToken = current;
      return { authorization: `Bearer ${current}` };
    },
    retryAttempts: 5,
    retryWait: (retries) => new Promise((resolve) => setTimeout(resolve, 250 * 2 ** retries)),
    shouldRetry: () => token !== null,
    on: {
      connected: () => renderLive('open'),
      closed: (event) => {
        const { code, reason } = event as CloseEvent;
        void liveClosed(code, reason);
      },
    },
  });
  live = client;
  // Every new token is sent over the socket: it stays open across token lifetimes.
  renewLive = renewOnNewToken(client, {
    onRenewed: (accessToken) => {
      liveToken = accessToken;
    },
    onError: (error) => logEvent(`renewal failed: ${error instanceof Error ? error.message : String(error)}`),
  });
  scheduleRefresh();
  renderLive('connecting');
  live.subscribe<{ sessionEvents: { kind: string; session: { id: string; current: boolean } } }>(
    { query: SESSION_EVENTS },
    {
      next: ({ data, errors }) => {
        if (data) logEvent(`${data.sessionEvents.kind} ${data.sessionEvents.session.id}${data.sessionEvents.session.current ? ' (this device)' : ''}`);
        else logEvent(`error ${String(errors?.[0]?.extensions?.reason ?? errors?.[0]?.message)}`);
      },
      // The socket's close (shown by `closed`) or a refused connection ends the subscription.
      error: () => {},
      complete: () => {},
    },
  );
}

element('sign-in').addEventListener('click', () => void signIn());
element('me').addEventListener('click', () => void me());
element('cancel-all').addEventListener('click', () => void cancelAll());
element('cancel-session').addEventListener('click', () => void cancelSession());
element('admin-cancel-user').addEventListener('click', () => void cancelUserTokens());
element('watch').addEventListener('click', () => watchSessions());
render('ready');
