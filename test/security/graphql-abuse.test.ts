/**
 * GraphQL abuse, over HTTP against the real server: depth, alias, token, cost and directive
 * limits; 200 aliased signIn calls are one refused request, not 200 guesses; the body limit;
 * CSRF prevention; batching; introspection and suggestions in production; GET never mutates.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireRedisUrl } from '../helpers/redis-url.js';
import { httpRequest, startTestServer, uniqueUsername, type TestServer } from '../helpers/test-server.js';

const SIGN_IN = 'mutation($u: String!, $p: String!) { signIn(username: $u, password: $p) { accessToken } }';

function messages(body: { errors?: Array<{ message: string }> }): string {
  return (body?.errors ?? []).map((e) => e.message).join('\n');
}

describe('GraphQL abuse (development defaults)', () => {
  let server: TestServer;
  let token: string;

  beforeAll(async () => {
    server = await startTestServer({ redisUrl: requireRedisUrl() });
    ({ token } = await server.signUp());
  });
  afterAll(() => server.close());

  it('refuses a document deeper than 10 levels (400, GRAPHQL_VALIDATION_FAILED)', async () => {
    let query = 'id';
    for (let i = 0; i < 11; i++) query = `f${i} { ${query} }`;
    const answer = await server.graphql(`{ me { ${query} } }`, { token });
    expect(answer.status).toBe(400);
    expect(answer.body.errors[0].extensions.code).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(messages(answer.body)).toMatch(/depth limit of 10 exceeded/i);
  });

  it('serves 15 aliases and refuses 16 (400)', async () => {
    const aliases = (n: number) => `{ ${Array.from({ length: n }, (_, i) => `a${i}: me { id }`).join(' ')} }`;
    const ok = await server.graphql(aliases(15), { token });
    expect(ok.status).toBe(200);
    expect(Object.keys(ok.body.data)).toHaveLength(15);
    const refused = await server.graphql(aliases(16), { token });
    expect(refused.status).toBe(400);
    expect(refused.body.errors[0].extensions.code).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(messages(refused.body)).toMatch(/aliases limit of 15 exceeded/i);
    expect(refused.body.data).toBeUndefined();
  });

  it('refuses a document of more than 1000 tokens while parsing (400, GRAPHQL_PARSE_FAILED)', async () => {
    const answer = await server.graphql(`{ ${'__typename '.repeat(1100)} }`);
    expect(answer.status).toBe(400);
    expect(answer.body.errors[0].extensions.code).toBe('GRAPHQL_PARSE_FAILED');
    expect(messages(answer.body)).toMatch(/more that 1000 tokens/i) // sic: graphql-js's wording;
  });

  describe('200 aliased signIn calls in one request', () => {
    it('are refused as one request (400) and count as no password guess at all', async () => {
      const user = await server.signUp();
      const calls = Array.from({ length: 200 }, (_, i) => `a${i}: signIn(username: $u, password: $p) { accessToken }`).join(' ');
      const answer = await server.graphql(`mutation($u: String!, $p: String!) { ${calls} }`, { variables: { u: user.username, p: 'wrong password!' } });
      // 200 calls are ~3200 tokens: the parser stops first. Under the token limit, the
      // once-per-request rule does (next test).
      expect(answer.status).toBe(400);
      expect(answer.body.errors[0].extensions.code).toBe('GRAPHQL_PARSE_FAILED');
      expect(answer.body.data).toBeUndefined();
      const fifteen = Array.from({ length: 15 }, (_, i) => `a${i}: signIn(username: $u, password: $p) { accessToken }`).join(' ');
      const refused = await server.graphql(`mutation($u: String!, $p: String!) { ${fifteen} }`, { variables: { u: user.username, p: 'wrong password!' } });
      expect(refused.status).toBe(400);
      expect(refused.body.errors[0].extensions.code).toBe('GRAPHQL_VALIDATION_FAILED');
      expect(messages(refused.body)).toMatch(/"Mutation.signIn" may be selected at most 1 time\(s\) in one request/);
      expect(refused.body.data).toBeUndefined();
      // Had they run, the limit (10 failures) would now refuse even the right password.
      const signIn = await server.graphql(SIGN_IN, { variables: { u: user.username, p: user.password } });
      expect(signIn.status).toBe(200);
      expect(signIn.body.data.signIn.accessToken).toEqual(expect.any(String));
    });

    it('are refused as well when only 2, or when hidden in fragments', async () => {
      const two = await server.graphql('mutation { a: signIn(username: "x", password: "y") { accessToken } b: signIn(username: "x", password: "z") { accessToken } }');
      expect(two.status).toBe(400);
      const fragments = await server.graphql(
        'mutation { ...A ...B } fragment A on Mutation { a: signIn(username: "x", password: "y") { accessToken } } fragment B on Mutation { b: signIn(username: "x", password: "z") { accessToken } }',
      );
      expect(fragments.status).toBe(400);
      expect(messages(fragments.body)).toMatch(/at most 1 time/);
    });
  });

  it('refuses a 2 MB body with 413 before reading it all, and serves the next request', async () => {
    const body = JSON.stringify({ query: `{ __typename }`, variables: { pad: 'x'.repeat(2 * 1024 * 1024) } });
    const answer = await httpRequest(server.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    expect(answer.status).toBe(413);
    expect(answer.body.errors[0].extensions.code).toBe('BAD_REQUEST');
    expect((await server.graphql('{ __typename }')).status).toBe(200);
  });

  describe('CSRF prevention (Apollo csrfPrevention)', () => {
    it('refuses a simple-request POST (text/plain) without a preflight header', async () => {
      const answer = await httpRequest(server.url, {
        method: 'POST',
        headers: { 'content-type': 'text/plain' },
        body: JSON.stringify({ query: 'mutation { signUp(username: "csrf_victim", password: "password123") { accessToken } }' }),
      });
      expect(answer.status).toBe(400);
      expect(answer.text).toMatch(/CSRF/);
      // The mutation did not run: the name is still free.
      expect((await server.signUp('csrf_victim', 'password123')).username).toBe('csrf_victim');
    });

    it('refuses a simple GET without a preflight header, serves it with one', async () => {
      const url = `${server.url}?query=${encodeURIComponent('{ __typename }')}`;
      const refused = await httpRequest(url, { method: 'GET' });
      expect(refused.status).toBe(400);
      expect(refused.text).toMatch(/CSRF/);
      const served = await httpRequest(url, { method: 'GET', headers: { 'apollo-require-preflight': 'true' } });
      expect(served.status).toBe(200);
      expect(served.body).toEqual({ data: { __typename: 'Query' } });
    });
  });

  it('refuses batched requests by default (400)', async () => {
    const answer = await httpRequest(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify([{ query: '{ __typename }' }, { query: '{ __typename }' }]),
    });
    expect(answer.status).toBe(400);
    expect(answer.text).toMatch(/batch/i);
  });

  it('never runs a mutation sent by GET (405), even with the preflight header', async () => {
    const name = uniqueUsername('getmut');
    const query = `mutation { signUp(username: "${name}", password: "password123") { accessToken } }`;
    const answer = await httpRequest(`${server.url}?query=${encodeURIComponent(query)}`, {
      method: 'GET',
      headers: { 'apollo-require-preflight': 'true', 'content-type': 'application/json' },
    });
    expect(answer.status).toBe(405);
    expect(answer.body?.data).toBeUndefined();
    // Not created: signing up with the same name works.
    expect((await server.signUp(name, 'password123')).username).toBe(name);
  });

  it('keeps introspection and "Did you mean" suggestions in development', async () => {
    const introspection = await server.graphql('{ __schema { queryType { name } } }');
    expect(introspection.status).toBe(200);
    expect(introspection.body.data.__schema.queryType.name).toBe('Query');
    const typo = await server.graphql('{ mee { id } }');
    expect(typo.status).toBe(400);
    expect(messages(typo.body)).toMatch(/Did you mean "me"\?/);
  });
});

describe('GraphQL abuse (configured limits)', () => {
  let server: TestServer;
  let token: string;
  beforeAll(async () => {
    server = await startTestServer({
      env: { GRAPHQL_MAX_COST: '6', GRAPHQL_MAX_DIRECTIVES: '2', GRAPHQL_MAX_DEPTH: '2', GRAPHQL_ALLOW_BATCHING: 'true' },
    });
    // signUp's own selection is over these limits: a token straight from the issuer.
    token = server.app.issuer.issue({ id: 'limits-user', username: 'limits_user' }).token;
  });
  afterAll(() => server.close());

  it('refuses a document over the cost limit', async () => {
    expect((await server.graphql('{ me { id } }', { token })).status).toBe(200);
    const answer = await server.graphql('{ a: me { id username } b: me { id username } }', { token });
    expect(answer.status).toBe(400);
    expect(messages(answer.body)).toMatch(/cost limit of 6 exceeded/i);
  });

  it('refuses a document over the directive limit', async () => {
    const answer = await server.graphql('{ a: __typename @skip(if: false) b: __typename @skip(if: false) c: __typename @include(if: true) }');
    expect(answer.status).toBe(400);
    expect(messages(answer.body)).toMatch(/directives limit of 2 exceeded/i);
  });

  it('refuses a document over a configured depth', async () => {
    const answer = await server.graphql('mutation { signUp(username: "deep_user", password: "password123") { user { id } } }');
    expect(answer.status).toBe(400);
    expect(messages(answer.body)).toMatch(/depth limit of 2 exceeded, found 3/i);
  });

  it('serves batched requests when GRAPHQL_ALLOW_BATCHING=true', async () => {
    const answer = await httpRequest(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify([{ query: '{ __typename }' }, { query: '{ __typename }' }]),
    });
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual([{ data: { __typename: 'Query' } }, { data: { __typename: 'Query' } }]);
  });
});

describe('GraphQL abuse (NODE_ENV=production)', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ redisUrl: requireRedisUrl(), env: { NODE_ENV: 'production' } });
  });
  afterAll(() => server.close());

  it('refuses introspection (400)', async () => {
    for (const query of ['{ __schema { queryType { name } } }', '{ __type(name: "User") { name fields { name } } }']) {
      const answer = await server.graphql(query);
      expect(answer.status).toBe(400);
      expect(answer.body.errors[0].extensions.code).toBe('GRAPHQL_VALIDATION_FAILED');
      expect(messages(answer.body)).toMatch(/introspection is not allowed/i);
    }
  });

  it('gives no "Did you mean" suggestion', async () => {
    for (const query of ['{ mee { id } }', '{ me { idd } }', 'mutation { signin(username: "a", password: "b") { accessToken } }']) {
      const answer = await server.graphql(query);
      expect(answer.status).toBe(400);
      expect(messages(answer.body)).toMatch(/Cannot query field/);
      expect(answer.text).not.toMatch(/Did you mean/);
      expect(answer.text).not.toMatch(/signIn|"me"|"id"/);
    }
  });

  it('still refuses batches and GET mutations', async () => {
    const batch = await httpRequest(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify([{ query: '{ __typename }' }]),
    });
    expect(batch.status).toBe(400);
    const get = await httpRequest(`${server.url}?query=${encodeURIComponent('mutation { cancelAllMyTokens }')}`, {
      method: 'GET',
      headers: { 'apollo-require-preflight': 'true' },
    });
    expect(get.status).toBe(405);
  });
});
