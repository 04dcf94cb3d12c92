// A browser app on another origin than the API: sign in, ask `me`, sign out everywhere, and
// notice when another device has cancelled this page's token. Built with esbuild
// (test/browser/ does it); open index.html?api=<the API's /graphql URL>.
import { ApolloClient, ApolloLink, HttpLink, InMemoryCache, gql } from '@apollo/client';
import { CombinedGraphQLErrors } from '@apollo/client/errors';
import { createAuthErrorLink, createAuthHeaderLink, type Session } from './auth-link.js';

const api = new URLSearchParams(location.search).get('api') ?? 'http://localhost:4000/graphql';

let token: string | null = null;
let username: string | null = null;

function element<T extends HTMLElement>(id: string): T {
  const found = document.getElementById(id);
  if (!found) throw new Error(`#${id} is missing from the page`);
  return found as T;
}

function render(message?: string): void {
  element('status').textContent = token ? `signed in as ${username}` : 'signed out';
  if (message !== undefined) element('output').textContent = message;
}

const session: Session = {
  getToken: () => token,
  // This API has no refresh token yet: an expired session means signing in again.
  refresh: async () => null,
  signOut(reason) {
    token = null;
    username = null;
    render(`session ended: ${reason}`);
  },
};

const client = new ApolloClient({
  link: ApolloLink.from([createAuthErrorLink(session), createAuthHeaderLink(session), new HttpLink({ uri: api })]),
  cache: new InMemoryCache(),
});

const SIGN_IN = gql`
  mutation SignIn($username: String!, $password: String!) {
    signIn(username: $username, password: $password) { accessToken user { username } }
  }
`;
const ME = gql`query Me { me { id username } }`;
const CANCEL_ALL = gql`mutation CancelAll { cancelAllMyTokens }`;

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
    const { data } = await client.mutate<{ signIn: { accessToken: string; user: { username: string } } }>({ mutation: SIGN_IN, variables });
    if (!data) throw new Error('no data');
    token = data.signIn.accessToken;
    username = data.signIn.user.username;
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
    token = null;
    username = null;
    render(`cancelled ${data?.cancelAllMyTokens ?? 0} tokens`);
  } catch (error) {
    if (token) render(`cancel failed: ${describe(error)}`);
  }
}

element('sign-in').addEventListener('click', () => void signIn());
element('me').addEventListener('click', () => void me());
element('cancel-all').addEventListener('click', () => void cancelAll());
render('ready');
