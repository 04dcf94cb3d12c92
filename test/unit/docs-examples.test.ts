import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { EXAMPLE_BLOCK } from '../../scripts/sync-doc-examples.js';

const root = new URL('../../', import.meta.url);
const docs = readdirSync(new URL('docs/', root)).filter((file) => file.endsWith('.md'));
const quoted = docs.flatMap((doc) =>
  [...readFileSync(new URL(`docs/${doc}`, root), 'utf8').matchAll(EXAMPLE_BLOCK)].map((match) => ({ doc, file: match[2] as string, content: match[3] as string })),
);

describe("the docs' examples are the tested files, word for word", () => {
  it('quotes the library server and the Apollo Client links', () => {
    expect(quoted.map(({ doc, file }) => `${doc}: ${file}`)).toEqual(
      expect.arrayContaining(['library.md: examples/library/server.ts', 'clients.md: examples/browser-client/src/auth-link.ts']),
    );
  });

  it.each(quoted.map((q) => [`${q.doc} quotes ${q.file}`, q] as const))('%s as it is (npm run docs:examples to copy it)', (_, { file, content }) => {
    expect(content).toBe(readFileSync(new URL(file, root), 'utf8'));
  });
});
