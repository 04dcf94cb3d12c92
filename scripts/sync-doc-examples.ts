/**
 * Copies each example file into the docs that quote it. A doc marks the place with
 *   <!-- example: examples/library/server.ts -->
 * followed by a fenced code block, whose content this replaces with the file's. Run by
 * `npm run docs:examples`; test/unit/docs-examples.test.ts fails when a doc and its file differ,
 * so the doc's example is always the tested file.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';

/** A marker, the fence's opening line, the quoted content, and the closing fence. */
export const EXAMPLE_BLOCK = /(<!-- example: ([^ ]+) -->\n```\w*\n)([\s\S]*?)(```)/g;

const root = new URL('../', import.meta.url);

if (import.meta.url === `file://${process.argv[1]}`) {
  const docs = new URL('docs/', root);
  for (const name of readdirSync(docs).filter((file) => file.endsWith('.md'))) {
    const path = new URL(name, docs);
    const text = readFileSync(path, 'utf8');
    const synced = text.replace(EXAMPLE_BLOCK, (_, open: string, file: string, _old: string, close: string) => open + readFileSync(new URL(file, root), 'utf8') + close);
    if (synced !== text) {
      writeFileSync(path, synced);
      console.log(`docs/${name}: examples updated`);
    }
  }
}
