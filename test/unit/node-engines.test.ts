/**
 * `npm ci` is quiet on every Node version the project says it supports: each package the
 * lockfile pins (dev and production, peers included) accepts every Node version of our own
 * `engines.node`. A package wanting a newer Node is what npm prints an EBADENGINE warning for
 * (165 of them once, from @graphql-codegen/cli 7's loaders, one in the Docker image's
 * production install).
 */
import { readFileSync } from 'node:fs';
import semver from 'semver';
import { describe, expect, it } from 'vitest';

const ROOT = new URL('../../', import.meta.url);
const pkg = JSON.parse(readFileSync(new URL('package.json', ROOT), 'utf8')) as { engines: { node: string } };
const lock = JSON.parse(readFileSync(new URL('package-lock.json', ROOT), 'utf8')) as {
  packages: Record<string, { version?: string; engines?: { node?: string } | string[]; dev?: boolean; os?: string[] }>;
};

describe('Node engines', () => {
  it('every locked package accepts every Node version our engines.node admits', () => {
    const ours = pkg.engines.node;
    expect(semver.validRange(ours)).not.toBeNull();
    const refusing: string[] = [];
    for (const [path, entry] of Object.entries(lock.packages)) {
      if (path === '' || !entry.engines || Array.isArray(entry.engines)) continue;
      const theirs = entry.engines.node;
      if (theirs === undefined) continue;
      if (!semver.subset(ours, theirs)) refusing.push(`${path}@${entry.version} wants node ${theirs}${entry.dev ? '' : ' (production)'}`);
    }
    expect(refusing).toEqual([]);
  });

  it('admits the Node this runs on, and the versions README names (20.19+, 22.13+, 24+)', () => {
    expect(semver.satisfies(process.version, pkg.engines.node)).toBe(true);
    for (const version of ['20.19.0', '22.13.0', '24.0.0', '26.0.0']) expect(semver.satisfies(version, pkg.engines.node)).toBe(true);
    for (const version of ['18.20.0', '20.18.0', '21.7.0', '22.12.0', '23.11.0']) expect(semver.satisfies(version, pkg.engines.node)).toBe(false);
  });
});
