import { describe, expect, it } from 'vitest';
import { ADMIN_SCOPE, AdminInputError, createUserAdmin, SelfDisableError, type AdminActor } from '../../src/admin/user-admin.js';
import { MemoryRevocationStore } from '../../src/revocation/memory-store.js';
import { MemoryUserStore } from '../../src/users/memory-user-store.js';

const NOW = 1_800_000_000_000;
const cli: AdminActor = { kind: 'cli', osUser: 'ops' };

function setup() {
  const users = new MemoryUserStore();
  const revocations = new MemoryRevocationStore({ now: () => NOW, sweepIntervalMs: 0 });
  const lines: { level: 'info' | 'warn'; object: Record<string, unknown>; message: string }[] = [];
  const logger = {
    info: (object: object, message: string) => lines.push({ level: 'info', object: object as Record<string, unknown>, message }),
    warn: (object: object, message: string) => lines.push({ level: 'warn', object: object as Record<string, unknown>, message }),
  };
  const admin = createUserAdmin({ users, revocations, logger });
  let n = 0;
  async function user(name = `user${++n}`) {
    const record = { id: `id-${name}`, username: name, passwordHash: 'x', createdAt: '' };
    await users.create(record);
    return record;
  }
  /** Records a live token of the user, as sign-in does; returns it. */
  async function token(userId: string) {
    const ref = { userId, jti: `jti-${++n}`, expiresAt: NOW / 1000 + 900 };
    await revocations.recordIssued(ref);
    return ref;
  }
  return { users, revocations, admin, lines, user, token };
}

describe('the admin functions', () => {
  it('grant a scope without touching tokens; granting tokens:admin ends every token of the user', async () => {
    const { admin, revocations, user, token } = setup();
    const alice = await user('alice');
    const t1 = await token(alice.id);
    expect(await admin.grantScopes(cli, alice.id, ['reports:read'])).toMatchObject({ before: [], after: ['reports:read'], tokensRevoked: 0 });
    expect(await revocations.isRevoked(t1)).toBe(false);
    expect(await admin.grantScopes(cli, alice.id, [ADMIN_SCOPE])).toMatchObject({ after: ['reports:read', ADMIN_SCOPE], tokensRevoked: 1 });
    expect(await revocations.isRevoked(t1)).toBe(true);
  });

  it('removing tokens:admin ends every token of the user; removing another scope does not', async () => {
    const { admin, revocations, user, token } = setup();
    const bob = await user('bob');
    await admin.grantScopes(cli, bob.id, [ADMIN_SCOPE, 'x']);
    const t = await token(bob.id);
    expect(await admin.revokeScopes(cli, bob.id, ['x'])).toMatchObject({ after: [ADMIN_SCOPE], tokensRevoked: 0 });
    expect(await revocations.isRevoked(t)).toBe(false);
    expect(await admin.revokeScopes(cli, bob.id, [ADMIN_SCOPE])).toMatchObject({ after: [], tokensRevoked: 1 });
    expect(await revocations.isRevoked(t)).toBe(true);
  });

  it('refuse invalid or missing scopes before any write', async () => {
    const { admin, users, user } = setup();
    const carol = await user('carol');
    await expect(admin.grantScopes(cli, carol.id, [])).rejects.toBeInstanceOf(AdminInputError);
    await expect(admin.grantScopes(cli, carol.id, ['ok', 'not ok'])).rejects.toThrow(/Invalid scope "not ok"/);
    expect((await users.findById(carol.id))?.scopes).toBeUndefined();
  });

  it('revokeUser ends every token of the user and counts them; an unknown id is 0', async () => {
    const { admin, revocations, user, token } = setup();
    const dave = await user('dave');
    const tokens = [await token(dave.id), await token(dave.id), await token(dave.id)];
    expect(await admin.revokeUser(cli, dave.id)).toBe(3);
    for (const t of tokens) expect(await revocations.isRevoked(t)).toBe(true);
    expect(await admin.revokeUser(cli, 'no-such-id')).toBe(0);
  });

  it('setDisabled disables (ending every token) and enables; an admin cannot disable themself; unknown id: undefined', async () => {
    const { admin, revocations, users, user, token } = setup();
    const erin = await user('erin');
    const root = await user('root');
    const t = await token(erin.id);
    const me: AdminActor = { kind: 'user', userId: root.id };
    expect(await admin.setDisabled(me, erin.id, true)).toMatchObject({ wasDisabled: false, disabled: true, tokensRevoked: 1 });
    expect(await revocations.isRevoked(t)).toBe(true);
    expect((await users.findById(erin.id))?.disabled).toBe(true);
    expect(await admin.setDisabled(me, erin.id, false)).toMatchObject({ wasDisabled: true, disabled: false, tokensRevoked: 0 });
    expect((await users.findById(erin.id))?.disabled).toBeUndefined();
    await expect(admin.setDisabled(me, root.id, true)).rejects.toBeInstanceOf(SelfDisableError);
    expect((await users.findById(root.id))?.disabled).toBeUndefined();
    expect(await admin.setDisabled(me, 'no-such-id', true)).toBeUndefined();
  });

  it('finds a user by username (any case) or by id', async () => {
    const { admin, user } = setup();
    const frank = await user('Frank');
    expect((await admin.findUser('frank'))?.id).toBe(frank.id);
    expect((await admin.findUser(frank.id))?.username).toBe('Frank');
    expect(await admin.findUser('nobody')).toBeUndefined();
  });

  it('log every call at info with the action, the actor, the target and the outcome, and never a token', async () => {
    const { admin, lines, user, token } = setup();
    const gina = await user('gina');
    const live = await token(gina.id);
    const root: AdminActor = { kind: 'user', userId: 'id-root' };
    await admin.grantScopes(cli, gina.id, ['a']);
    await admin.revokeUser(root, gina.id);
    await admin.revokeUser(root, 'ghost');
    await admin.setDisabled(root, 'id-root', true).catch(() => {});
    expect(lines.map((l) => [l.level, l.message, l.object.actor, l.object.target, l.object.outcome])).toEqual([
      ['info', 'admin: grantScopes', { kind: 'cli', osUser: 'ops' }, { userId: gina.id }, 'done'],
      ['info', 'admin: revokeUser', { kind: 'user', userId: 'id-root' }, { userId: gina.id }, 'done'],
      ['info', 'admin: revokeUser', { kind: 'user', userId: 'id-root' }, { userId: 'ghost' }, 'unknown-user'],
      ['info', 'admin: disableUser', { kind: 'user', userId: 'id-root' }, { userId: 'id-root' }, 'refused'],
    ]);
    expect(lines[1]!.object.tokensRevoked).toBe(1);
    for (const line of lines) {
      expect(line.object.audit).toBe(true);
      expect(JSON.stringify(line.object)).not.toContain(live.jti);
    }
  });
});
