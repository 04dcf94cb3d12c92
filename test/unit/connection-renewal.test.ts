/**
 * The renewal's handling of revocations that arrive while the new token's store lookup is in
 * flight (the socket is registered under its old token then): driven with a lookup the test
 * answers itself. The rest of the rules are tested over the wire (test/e2e/live-renewal.test.ts).
 */
import { GraphQLError } from 'graphql';
import { describe, expect, it } from 'vitest';
import type { VerifiedToken } from '../../src/auth/token.js';
import type { GraphQLContext } from '../../src/context/context.js';
import { createConnectionRenewal, type RenewalOutcome } from '../../src/live/connection-renewal.js';

interface Socket {
  token: VerifiedToken;
  closedBy: string | undefined;
}

const NOW = 1_800_000_000_000;
const old: VerifiedToken = { userId: 'u1', jti: 'old', sessionId: 's1', issuedAt: NOW / 1000 - 10, expiresAt: NOW / 1000 + 100 };
const fresh: VerifiedToken = { ...old, jti: 'new', issuedAt: NOW / 1000, expiresAt: NOW / 1000 + 900 };

function setup() {
  let answer!: (context: GraphQLContext) => void;
  const applied: VerifiedToken[] = [];
  const rechecked: Socket[] = [];
  const outcomes: RenewalOutcome[] = [];
  const socket: Socket = { token: old, closedBy: undefined };
  const renewal = createConnectionRenewal<Socket>({
    authenticate: () => new Promise<GraphQLContext>((resolve) => (answer = resolve)),
    apply: (s, token) => {
      s.token = token;
      applied.push(token);
    },
    closeExpired: (s) => (s.closedBy = 'expired'),
    recheck: (s) => rechecked.push(s),
    now: () => NOW,
    onOutcome: (outcome) => outcomes.push(outcome),
  });
  const handle = renewal.contextFor(socket, { auth: { kind: 'authenticated', token: old } }).connection!;
  const settle = () => answer({ auth: { kind: 'authenticated', token: fresh } });
  return { renewal, socket, handle, settle, applied, rechecked, outcomes };
}

async function reasonOf(promise: Promise<void>): Promise<unknown> {
  try {
    await promise;
    return 'renewed';
  } catch (error) {
    expect(error).toBeInstanceOf(GraphQLError);
    return (error as GraphQLError).extensions.reason;
  }
}

describe('connection renewal: revocations during the lookup', () => {
  it('refuses the renewal when the new token\'s jti is revoked while its lookup is in flight', async () => {
    const { renewal, socket, handle, settle, applied, outcomes } = setup();
    const renewing = handle.renew('t');
    expect(renewal.pending).toBe(1);
    renewal.noteRevocation({ type: 'revoked', userId: 'u1', scope: { kind: 'token', jti: 'new' }, at: NOW });
    settle();
    expect(await reasonOf(renewing)).toBe('TOKEN_REVOKED');
    expect(applied).toEqual([]);
    expect(socket.token).toBe(old);
    expect(outcomes).toEqual(['revoked']);
    expect(renewal.pending).toBe(0);
  });

  it('refuses it when the session ends meanwhile; another jti or another user\'s events do not matter', async () => {
    const ended = setup();
    const renewing = ended.handle.renew('t');
    ended.renewal.noteRevocation({ type: 'revoked', userId: 'u1', scope: { kind: 'session', sessionId: 's1' }, at: NOW });
    ended.settle();
    expect(await reasonOf(renewing)).toBe('TOKEN_REVOKED');

    const unrelated = setup();
    const other = unrelated.handle.renew('t');
    unrelated.renewal.noteRevocation({ type: 'revoked', userId: 'u1', scope: { kind: 'token', jti: 'another' }, at: NOW });
    unrelated.renewal.noteRevocation({ type: 'revoked', userId: 'u2', scope: { kind: 'session', sessionId: 's1' }, at: NOW });
    unrelated.renewal.noteRevocation({ type: 'revoked', userId: 'u1', scope: { kind: 'session', sessionId: 's2' }, at: NOW });
    unrelated.settle();
    expect(await reasonOf(other)).toBe('renewed');
    expect(unrelated.socket.token).toBe(fresh);
    expect(unrelated.rechecked).toEqual([]);
  });

  it('applies, then has the store re-check the socket under its new token, after a user-wide revocation', async () => {
    const { renewal, socket, handle, settle, rechecked, outcomes } = setup();
    const renewing = handle.renew('t');
    renewal.noteRevocation({ type: 'revoked', userId: 'u1', scope: { kind: 'user' }, at: NOW });
    settle();
    expect(await reasonOf(renewing)).toBe('renewed');
    expect(socket.token).toBe(fresh);
    expect(rechecked).toEqual([socket]);
    expect(outcomes).toEqual(['renewed']);
  });

  it('closes the socket and refuses at once when its own token is already past exp', async () => {
    const { socket, handle, outcomes, renewal } = setup();
    socket.token = { ...old, expiresAt: NOW / 1000 };
    expect(await reasonOf(handle.renew('t'))).toBe('TOKEN_EXPIRED');
    expect(socket.closedBy).toBe('expired');
    expect(outcomes).toEqual(['socket_expired']);
    expect(renewal.pending).toBe(0);
  });
});
