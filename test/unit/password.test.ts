import { describe, expect, it } from 'vitest';
import { createPasswordHasher } from '../../src/auth/password.js';

describe('password hasher (scrypt)', () => {
  const hasher = createPasswordHasher({ cost: 1024 });

  it('verifies the right password and refuses a wrong one', async () => {
    const stored = await hasher.hash('correct horse battery');
    expect(stored).toMatch(/^scrypt\$1024\$8\$1\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/);
    expect(stored).not.toContain('correct horse');
    expect(await hasher.verify('correct horse battery', stored)).toBe(true);
    expect(await hasher.verify('correct horse batterY', stored)).toBe(false);
  });

  it('salts every hash', async () => {
    expect(await hasher.hash('same password')).not.toBe(await hasher.hash('same password'));
  });

  it('refuses malformed stored hashes instead of throwing', async () => {
    for (const stored of ['', 'plain', 'scrypt$x$8$1$a$b', 'bcrypt$1$2$3$4$5']) expect(await hasher.verify('pw', stored)).toBe(false);
  });

  it('verifies hashes made with other parameters (cost upgrades keep old users working)', async () => {
    const old = await createPasswordHasher({ cost: 2048 }).hash('pw-123456');
    expect(await hasher.verify('pw-123456', old)).toBe(true);
  });

  it('verifyDummy always answers false', async () => {
    expect(await hasher.verifyDummy('anything')).toBe(false);
  });
});
