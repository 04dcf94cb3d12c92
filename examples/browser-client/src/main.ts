// A browser app on another origin than the API: sign in, ask `me`, refresh an expired access
// token without the user noticing, watch my sessions live over a WebSocket, sign out a device
// or everywhere, and notice when another device has ended this page's session. Built with
// esbuild (test/browser/ does it); open index.html?api=<the API's /graphql URL>.
import { ApolloClient, ApolloLink, HttpLink, InMemoryCache, gql } from '@apollo/client';
import { CombinedGraphQLErrors } from '@apollo/client/errors';
import { createClient, type Client } from 'graphql-ws/client';
import { createAuthErrorLink, createAuthHeaderLink, type Session } from './auth-link.js';

const api = new URLSearchParams(location.search).get('api') ?? 'http://localhost:4000/graphql';
/** The live connection: the same URL, over WebSocket (graphql-transport-ws). */
const wsUrl = api.replace(/^http/, 'ws');

/** What signIn and refreshSession return (the fields this app asks for). */
interface AuthPayload {
  accessToken: string;
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
/** The access token the live connection authenticated with. */
let liveToken: string | null = null;

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
  token = pair.accessToken;
  refreshToken = pair.refreshToken;
  sessionId = pair.session.id;
  username = pair.user.username;
}

function forget(): void {
  token = null;
  refreshToken = null;
  username = null;
  sessionId = null;
  live?.dispose();
  live = null;
}

const PAIR = 'accessToken refreshToken session { id } user { username }';
const SIGN_IN = gql`
  mutation SignIn($username: String!, $password: String!) {
    signIn(username: $username, password: $password) { ${PAIR} }
  }
`;
const REFRESH = `mutation Refresh($refreshToken: String!) { refreshSession(refreshToken: $refreshToken) { ${PAIR} } }`;
const ME = gql`query Me { me { id username } }`;
const CANCEL_ALL = gql`mutation CancelAll { cancelAllMyTokens }`;
const CANCEL_SESSION = gql`mutation CancelSession($id: ID!) { cancelSession(id: $id) }`;
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

const session: Session = {
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
  live = createClient({
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
element('watch').addEventListener('click', () => watchSessions());
render('ready');
