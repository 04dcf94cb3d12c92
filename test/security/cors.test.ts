import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import { ConfigError } from '../../src/errors.js';
import { httpRequest, startTestServer, type TestServer } from '../helpers/test-server.js';

const APP = 'http://app.example:8080';
const OTHER = 'http://evil.example';

function accessControlHeaders(headers: Headers): string[] {
  return [...headers.keys()].filter((name) => name.startsWith('access-control-'));
}

describe('CORS_ORIGINS', () => {
  it('is a comma list of origins, normalized; unset means none; anything but an origin refuses to start', () => {
    const load = (value?: string) => loadConfig(value === undefined ? {} : { CORS_ORIGINS: value }).config.cors.origins;
    expect(load()).toEqual([]);
    expect(load(' ')).toEqual([]);
    expect(load('https://App.Example.com/, http://localhost:5173')).toEqual(['https://app.example.com', 'http://localhost:5173']);
    expect(load('*')).toEqual(['*']);
    expect(() => load('app.example.com')).toThrow(ConfigError);
    expect(() => load('https://app.example.com/path')).toThrow('CORS_ORIGINS: "https://app.example.com/path" is not an origin');
    expect(() => load('*, https://a.example')).toThrow(ConfigError);
  });
});

describe('CORS over HTTP, with CORS_ORIGINS set', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ env: { CORS_ORIGINS: `${APP},http://second.example` } });
  });
  afterAll(() => server.close());

  const preflight = (origin: string, requestHeaders = 'authorization, content-type') =>
    httpRequest(server.url, {
      method: 'OPTIONS',
      headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': requestHeaders },
    });

  it('answers an allowed origin\'s preflight 204: POST with Authorization, Content-Type and Apollo-Require-Preflight, no credentials', async () => {
    const answer = await preflight(APP, 'authorization, content-type, apollo-require-preflight');
    expect(answer.status).toBe(204);
    expect(answer.headers.get('access-control-allow-origin')).toBe(APP);
    expect(answer.headers.get('access-control-allow-methods')).toBe('GET, POST, OPTIONS');
    expect(answer.headers.get('access-control-allow-headers')).toBe('authorization, content-type, apollo-require-preflight, x-apollo-operation-name');
    expect(answer.headers.get('access-control-max-age')).toBe('600');
    expect(answer.headers.get('access-control-allow-credentials')).toBeNull();
    expect(answer.headers.get('vary')).toBe('Origin');
  });

  it('lets an allowed origin read WWW-Authenticate and Retry-After on the answers themselves', async () => {
    const refused = await server.graphql('{ me { id } }', { token: 'not.a.token', headers: { origin: APP } });
    expect(refused.status).toBe(401);
    expect(refused.headers.get('access-control-allow-origin')).toBe(APP);
    expect(refused.headers.get('access-control-expose-headers')).toBe('www-authenticate, retry-after');
    expect(refused.headers.get('www-authenticate')).toBe('Bearer error="invalid_token"');
    expect(refused.headers.get('vary')).toBe('Origin');
    const { token } = await server.signUp();
    const me = await server.graphql('{ me { id } }', { token, headers: { origin: 'http://second.example' } });
    expect(me.status).toBe(200);
    expect(me.headers.get('access-control-allow-origin')).toBe('http://second.example');
  });

  it('gives another origin no Access-Control-* header: its preflight is 403, its requests are answered without them', async () => {
    const answer = await preflight(OTHER);
    expect(answer.status).toBe(403);
    expect(accessControlHeaders(answer.headers)).toEqual([]);
    const request = await server.graphql('{ __typename }', { headers: { origin: OTHER } });
    expect(request.status).toBe(200);
    expect(accessControlHeaders(request.headers)).toEqual([]);
  });

  it('keeps Apollo\'s CSRF prevention: a cross-origin GET without a preflight header is refused', async () => {
    const answer = await httpRequest(`${server.url}?query=${encodeURIComponent('{ __typename }')}`, { headers: { origin: APP } });
    expect(answer.status).toBe(400);
    expect(answer.text).toMatch(/CSRF/);
  });
});

describe('CORS over HTTP, with CORS_ORIGINS unset (the default)', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(() => server.close());

  it('allows no other origin: preflight 403, answers without Access-Control-* headers', async () => {
    const answer = await httpRequest(server.url, {
      method: 'OPTIONS',
      headers: { origin: APP, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization' },
    });
    expect(answer.status).toBe(403);
    expect(accessControlHeaders(answer.headers)).toEqual([]);
    const request = await server.graphql('{ __typename }', { headers: { origin: APP } });
    expect(request.status).toBe(200);
    expect(accessControlHeaders(request.headers)).toEqual([]);
    expect(request.headers.get('vary')).toBeNull();
  });
});
