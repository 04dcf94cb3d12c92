/**
 * The subscription fast path (src/live/subscription-fast-path.ts) says byte for byte what
 * graphql-js + graphql-ws say: for many selections (aliases, __typename, fragments, nested
 * fields merged, @skip/@include with variables, a chosen operation) × many events (each kind
 * and reason, nulls, the reader's own session, malformed events that graphql-js answers with
 * errors), over real sockets, a live endpoint with the fast path and one without it send the
 * same text. It also proves the path is taken (and leaves nothing behind), hands what it cannot
 * plan to graphql-ws, and bounds what a client that stops reading makes the server hold.
 */
import { createServer as createHttpServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { makeExecutableSchema } from '@graphql-tools/schema';
import { execute, parse, type GraphQLSchema } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createTokenIssuer, type TokenIssuer } from '../../src/auth/token-issuer.js';
import { createTokenVerifier } from '../../src/auth/token-verifier.js';
import type { GraphQLContext } from '../../src/context/context.js';
import { authenticatedDirectiveTransformer } from '../../src/directives/authenticated.js';
import { createLiveConnections, type LiveConnections } from '../../src/live/live-connections.js';
import { createMemoryEventBus, type LiveEvent, type LiveEventBus } from '../../src/live/revocation-events.js';
import { createSessionEventResolvers, sessionSubscriberCount, sessionSubscribersPushed } from '../../src/live/session-subscription.js';
import { completeEvent, planSubscription } from '../../src/live/subscription-fast-path.js';
import { MemoryRevocationStore } from '../../src/revocation/memory-store.js';
import { typeDefs } from '../../src/schema.js';
import { TEST_SECRET } from '../helpers/test-server.js';
import { secretKey } from '../helpers/tokens.js';
import { waitFor } from '../helpers/wait-for.js';

const jwt = { issuer: 'fast-path-test', audience: 'fast-path-test' };

function schemaWith(events: LiveEventBus): GraphQLSchema {
  return authenticatedDirectiveTransformer(makeExecutableSchema({ typeDefs, resolvers: [createSessionEventResolvers({ events })] }));
}

const FRAGMENTS = `
  fragment Times on Session { createdAt lastUsedAt expiresAt }
  fragment Whole on SessionEvent { kind reason session { ...Times id current } }
`;

/** [document, variables?, operationName?]: every shape the fast path plans. */
const SELECTIONS: Array<[string, Record<string, unknown>?, string?]> = [
  ['subscription { sessionEvents { kind session { id createdAt current } } }'],
  ['subscription { sessionEvents { kind reason session { id createdAt lastUsedAt expiresAt userAgent ipAddress current } } }'],
  ['subscription { e: sessionEvents { k: kind why: reason s: session { sid: id now: current ua: userAgent } } }'],
  ['subscription { sessionEvents { __typename kind session { __typename id t: __typename } } }'],
  [`subscription { sessionEvents { ...Whole } } ${FRAGMENTS}`],
  [`subscription { sessionEvents { session { id } ...Whole kind session { userAgent ...Times } } } ${FRAGMENTS}`],
  ['subscription { sessionEvents { ... on SessionEvent { kind } ... { reason } session { ... on Session { id ipAddress } } } }'],
  ['subscription { sessionEvents { session { id } session { createdAt } session { id current } } }'],
  ['subscription S($full: Boolean!, $bare: Boolean = false) { sessionEvents { kind reason @include(if: $full) session @skip(if: $bare) { id userAgent @include(if: $full) } } }', { full: true }],
  ['subscription S($full: Boolean!, $bare: Boolean = false) { sessionEvents { kind reason @include(if: $full) session @skip(if: $bare) { id userAgent @include(if: $full) } } }', { full: false, bare: true }],
  ['subscription { sessionEvents { kind @skip(if: true) reason @include(if: false) session { id @include(if: true) } } }'],
  ['query Q { __typename } subscription A { sessionEvents { kind } } subscription B { sessionEvents { session { id current } } }', undefined, 'B'],
];

const at = '2026-12-05T00:00:00.000Z';
const later = '2026-12-06T00:00:00.000Z';

function event(fields: Partial<Record<string, unknown>>, session: Record<string, unknown> = {}): LiveEvent {
  return {
    type: 'session',
    kind: 'CREATED',
    userId: 'user-1',
    session: { id: 'other-session', createdAt: at, lastUsedAt: at, expiresAt: later, userAgent: 'agent/1.0 "quoted" \u2028', ipAddress: '203.0.113.9', ...session },
    at: 0,
    ...fields,
  } as LiveEvent;
}

/** Well-formed events: the plan completes them itself. */
const EVENTS: LiveEvent[] = [
  event({}),
  event({}, { id: 'my-session' }),
  event({}, { userAgent: null, ipAddress: null }),
  ...['CANCELLED', 'ALL_SESSIONS_ENDED', 'REFRESH_TOKEN_REUSED', 'SESSION_LIMIT_EVICTED'].map((reason) => event({ kind: 'ENDED', reason })),
  event({}, { userAgent: 'ünïcödé \u0000 \\ </script>' }),
];

/** Events graphql-js answers with errors (the plan steps aside, execute answers) or coerces (an ID as a number). */
const MALFORMED: LiveEvent[] = [
  event({ kind: 'BOGUS' }),
  event({ kind: 'ENDED', reason: 'NOT_A_REASON' }),
  event({}, { createdAt: null }),
  event({}, { createdAt: undefined }),
  event({}, { id: 42 }),
  event({}, { userAgent: 17 }),
  event({}, { ipAddress: () => 'called' }),
];

function contextFor(sessionId: string): GraphQLContext {
  return { auth: { kind: 'authenticated', token: { userId: 'user-1', sessionId } } } as unknown as GraphQLContext;
}

describe('the fast path completes an event as graphql-js executes it', () => {
  const events = createMemoryEventBus();
  const schema = schemaWith(events);
  const context = contextFor('my-session');

  it('plans every selection shape, and gives the same bytes for every well-formed event', async () => {
    let compared = 0;
    for (const [query, variables, operationName] of SELECTIONS) {
      const document = parse(query);
      const plan = planSubscription(schema, document, operationName, variables);
      expect(plan, query).toBeDefined();
      for (const value of EVENTS) {
        const expected = await execute({ schema, document, rootValue: value, contextValue: context, ...(variables ? { variableValues: variables } : {}), ...(operationName ? { operationName } : {}) });
        expect(expected.errors, query).toBeUndefined();
        const data = completeEvent(schema, plan!, value, context);
        expect(JSON.stringify({ data }), `${query} ${JSON.stringify(value)}`).toBe(JSON.stringify(expected));
        compared += 1;
      }
    }
    expect(compared).toBe(SELECTIONS.length * EVENTS.length);
  });

  it('steps aside for what graphql-js answers with an error or coerces (execute then answers)', async () => {
    const [query] = SELECTIONS[1]!;
    const document = parse(query);
    const plan = planSubscription(schema, document, undefined, undefined)!;
    for (const value of MALFORMED) {
      const expected = await execute({ schema, document, rootValue: value, contextValue: context });
      const data = completeEvent(schema, plan, value, context);
      // With errors: execute's answer is sent. Without, either execute answers (a function value)
      // or the plan gives the same bytes (an ID given as a number is coerced).
      if (expected.errors) expect(data, JSON.stringify(value)).toBeUndefined();
      else if (data !== undefined) expect(JSON.stringify({ data })).toBe(JSON.stringify(expected));
    }
    // An anonymous context: @authenticated's resolve wrapper throws, so does the plan's call of it.
    expect(completeEvent(schema, plan, EVENTS[0], { auth: { kind: 'anonymous' } })).toBeUndefined();
  });

  it('has no plan for what it does not complete itself: a field resolver, a list, an abstract type, a query', () => {
    const custom = makeExecutableSchema({
      typeDefs: `
        type Item { name: String! upper: String! tags: [String!]! }
        interface Named { name: String! }
        type Thing implements Named { name: String! }
        type Query { x: Int }
        type Subscription { item: Item! named: Named! plain: Item }`,
      resolvers: { Item: { upper: (item: { name: string }) => item.name.toUpperCase() } },
    });
    const plan = (query: string) => planSubscription(custom, parse(query), undefined, undefined);
    expect(plan('subscription { item { name } }')).toBeDefined();
    expect(plan('subscription { plain { name } }')).toBeDefined();
    expect(plan('subscription { item { upper } }')).toBeUndefined();
    expect(plan('subscription { item { tags } }')).toBeUndefined();
    expect(plan('subscription { named { name } }')).toBeUndefined();
    expect(plan('{ x }')).toBeUndefined();
  });
});

interface Endpoint {
  url: string;
  live: LiveConnections;
  events: LiveEventBus;
  close(): Promise<void>;
}

async function startEndpoint(fastPath: boolean, extra: { limits?: { maxOperationsPerSecond?: number } } = {}): Promise<Endpoint> {
  const events = createMemoryEventBus();
  const revocations = new MemoryRevocationStore({ sweepIntervalMs: 0 });
  const live = createLiveConnections({
    schema: schemaWith(events),
    verifier: createTokenVerifier({ keys: [{ key: secretKey(TEST_SECRET), algorithm: 'HS256' }], ...jwt }),
    revocations,
    events,
    subscriptionFastPath: fastPath,
    ...(extra.limits ? { limits: extra.limits } : {}),
  });
  const http: Server = createHttpServer((_req, res) => res.end());
  live.attach(http);
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const { port } = http.address() as AddressInfo;
  return {
    url: `ws://127.0.0.1:${port}/graphql`,
    live,
    events,
    async close() {
      await live.close(200);
      await new Promise((resolve) => http.close(resolve));
      await events.close();
    },
  };
}

/** A socket that keeps every message as the exact text received. */
async function rawSocket(url: string, token: string): Promise<{ ws: WebSocket; texts: string[] }> {
  const ws = new WebSocket(url, 'graphql-transport-ws', { perMessageDeflate: false });
  const texts: string[] = [];
  ws.on('message', (data) => texts.push(String(data)));
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  ws.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${token}` } }));
  await waitFor('connection_ack', 5000, async () => (texts.includes('{"type":"connection_ack"}') ? true : undefined));
  texts.length = 0;
  return { ws, texts };
}

describe('over real sockets, a live endpoint with the fast path and one without send the same text', () => {
  let issuer: TokenIssuer;
  let fast: Endpoint;
  let slow: Endpoint;

  beforeAll(async () => {
    issuer = createTokenIssuer({ key: secretKey(TEST_SECRET), algorithm: 'HS256', ...jwt, ttlSeconds: 600 });
    [fast, slow] = await Promise.all([startEndpoint(true), startEndpoint(false)]);
  });
  afterAll(async () => {
    await Promise.all([fast.close(), slow.close()]);
  });

  it('for every selection × event (malformed ones included), errors and completes', async () => {
    const token = issuer.issue({ id: 'user-1', username: 'one' }, { sessionId: 'my-session' }).token;
    const [a, b] = await Promise.all([rawSocket(fast.url, token), rawSocket(slow.url, token)]);
    const subscribe = (ws: WebSocket) =>
      SELECTIONS.forEach(([query, variables, operationName], i) =>
        ws.send(JSON.stringify({ id: `s${i}`, type: 'subscribe', payload: { query, ...(variables ? { variables } : {}), ...(operationName ? { operationName } : {}) } })),
      );
    subscribe(a.ws);
    subscribe(b.ws);
    // Refused by the same hooks (validation, a variable of the wrong type, a query answered then completed).
    for (const { ws } of [a, b]) {
      ws.send(JSON.stringify({ id: 'bad-field', type: 'subscribe', payload: { query: 'subscription { sessionEvents { nope } }' } }));
      ws.send(JSON.stringify({ id: 'bad-var', type: 'subscribe', payload: { query: SELECTIONS[8]![0], variables: { full: 'yes' } } }));
      ws.send(JSON.stringify({ id: 'query', type: 'subscribe', payload: { query: '{ __typename }' } }));
    }
    await waitFor('both endpoints to hold every subscription', 5000, async () =>
      sessionSubscriberCount(fast.events).subscriptions === SELECTIONS.length && sessionSubscriberCount(slow.events).subscriptions === SELECTIONS.length ? true : undefined,
    );
    // The fast endpoint serves every one of them in push mode; the other pulls them through graphql-ws.
    expect(sessionSubscribersPushed(fast.events)).toBe(SELECTIONS.length);
    expect(sessionSubscribersPushed(slow.events)).toBe(0);
    const all = [...EVENTS, ...MALFORMED, event({ userId: 'someone-else' })];
    for (const value of all) await Promise.all([fast.events.publish(value), slow.events.publish(value)]);
    const expected = 3 + (all.length - 1) * SELECTIONS.length;
    await waitFor('every result on both sockets', 5000, async () => (a.texts.length >= expected && b.texts.length >= expected ? true : undefined));
    // Per subscription, in order; subscriptions interleave differently (they are independent).
    const byId = (texts: string[]) => {
      const map = new Map<string, string[]>();
      for (const text of texts) {
        const id = (JSON.parse(text) as { id: string }).id;
        map.set(id, [...(map.get(id) ?? []), text]);
      }
      return [...map].sort(([x], [y]) => x.localeCompare(y));
    };
    expect(byId(a.texts)).toEqual(byId(b.texts));
    expect(a.texts.some((t) => t.includes('"errors"'))).toBe(true);
    // Completed by the client: both leave the fan-out.
    for (const { ws } of [a, b]) SELECTIONS.forEach((_s, i) => ws.send(JSON.stringify({ id: `s${i}`, type: 'complete' })));
    await waitFor('every subscription gone', 5000, async () =>
      sessionSubscriberCount(fast.events).subscriptions === 0 && sessionSubscriberCount(slow.events).subscriptions === 0 ? true : undefined,
    );
    a.ws.close();
    b.ws.close();
  });

  it('refuses a duplicate id with 4409 and the 21st operation with the cap error, as graphql-ws does', async () => {
    const token = issuer.issue({ id: 'user-2', username: 'two' }, { sessionId: 'two-session' }).token;
    for (const endpoint of [fast, slow]) {
      const { ws, texts } = await rawSocket(endpoint.url, token);
      for (let i = 0; i < 21; i += 1) ws.send(JSON.stringify({ id: `c${i}`, type: 'subscribe', payload: { query: SELECTIONS[0]![0] } }));
      await waitFor('the cap error', 5000, async () => (texts.some((t) => t.includes('"c20"')) ? true : undefined));
      expect(texts).toHaveLength(1);
      expect(JSON.parse(texts[0]!)).toMatchObject({ id: 'c20', type: 'error', payload: [{ extensions: { code: 'BAD_REQUEST', limit: 20 } }] });
      const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
      ws.send(JSON.stringify({ id: 'c0', type: 'subscribe', payload: { query: SELECTIONS[0]![0] } }));
      expect(await closed).toBe(4409);
      await waitFor('the closed socket to leave the fan-out', 5000, async () => (sessionSubscriberCount(endpoint.events).subscriptions === 0 ? true : undefined));
    }
  });

  it('runs the hooks once for an operation it hands to graphql-ws: one rate token, one answer', async () => {
    const limited = await startEndpoint(true, { limits: { maxOperationsPerSecond: 5 } });
    try {
      const token = issuer.issue({ id: 'user-4', username: 'four' }, { sessionId: 'four-session' }).token;
      const { ws, texts } = await rawSocket(limited.url, token);
      for (let i = 0; i < 6; i += 1) ws.send(JSON.stringify({ id: `q${i}`, type: 'subscribe', payload: { query: '{ __typename }' } }));
      await waitFor('six answers', 5000, async () => (texts.filter((t) => t.includes('"complete"') || t.includes('"error"')).length >= 6 ? true : undefined));
      const answers = texts.map((t) => JSON.parse(t) as { id: string; type: string; payload?: unknown });
      for (let i = 0; i < 5; i += 1) {
        expect(answers.filter((m) => m.id === `q${i}`).map((m) => m.type)).toEqual(['next', 'complete']);
        expect(answers.find((m) => m.id === `q${i}`)?.payload).toEqual({ data: { __typename: 'Query' } });
      }
      expect(answers.filter((m) => m.id === 'q5')).toMatchObject([{ type: 'error', payload: [{ extensions: { code: 'RATE_LIMITED' } }] }]);
      ws.close();
    } finally {
      await limited.close();
    }
  });

  it('ends a subscription whose client stops reading after 100 results waiting, with the pull path’s error', async () => {
    const token = issuer.issue({ id: 'user-3', username: 'three' }, { sessionId: 'three-session' }).token;
    const { ws, texts } = await rawSocket(fast.url, token);
    ws.send(JSON.stringify({ id: 'slow', type: 'subscribe', payload: { query: SELECTIONS[1]![0] } }));
    await waitFor('the subscription', 5000, async () => (sessionSubscriberCount(fast.events).subscriptions === 1 ? true : undefined));
    // The client reads nothing: the kernel buffers fill, ws's send callbacks stop, results wait.
    ws.pause();
    const big = 'x'.repeat(60_000);
    let published = 0;
    for (; published < 2000 && sessionSubscriberCount(fast.events).subscriptions === 1; published += 1) {
      await fast.events.publish(event({ userId: 'user-3' }, { userAgent: big }));
      // The memory bus delivers on the next turn.
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(sessionSubscriberCount(fast.events).subscriptions).toBe(0);
    expect(published).toBeGreaterThan(100);
    expect(published).toBeLessThan(2000);
    ws.resume();
    await waitFor('the error', 10_000, async () => (texts.some((t) => t.includes('"type":"error"')) ? true : undefined));
    const error = JSON.parse(texts.find((t) => t.includes('"type":"error"'))!) as { id: string; payload: Array<{ message: string }> };
    expect(error.id).toBe('slow');
    expect(error.payload[0]!.message).toMatch(/More than 100 session events were waiting/);
    ws.close();
  });
});
