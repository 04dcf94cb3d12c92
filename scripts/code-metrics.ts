/**
 * The figures issue 23 asks for, measured the same way before and after a restructuring:
 * the longest functions, the files over 300 lines, the imports that run back up the floors
 * (scripts/layers.ts), the import cycles, and the `duplicates` pair count of the whole tree.
 * Source only: src/ without the generated code.
 *
 *   npx tsx scripts/code-metrics.ts
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { importCycles, importsOf, parse, sourceFiles, upwardImports } from './layers.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const files = sourceFiles(root).filter((path) => !path.startsWith('src/__generated__/'));
const parsed = files.map((path) => parse(root, path));

/** Every function, method, arrow and accessor with its length in lines (nested ones counted in their parent too). */
function functionsOf(file: ts.SourceFile): { name: string; lines: number }[] {
  const found: { name: string; lines: number }[] = [];
  const visit = (node: ts.Node) => {
    if (ts.isFunctionLike(node) && 'body' in node && node.body) {
      const start = file.getLineAndCharacterOfPosition(node.getStart()).line;
      const end = file.getLineAndCharacterOfPosition(node.getEnd()).line;
      found.push({ name: `${file.fileName}:${start + 1} ${nameOf(node)}`, lines: end - start + 1 });
    }
    ts.forEachChild(node, visit);
  };
  visit(file);
  return found;
}

function nameOf(node: ts.Node): string {
  const named = node as { name?: ts.Node };
  if (named.name) return named.name.getText();
  const parent = node.parent;
  if (parent && (ts.isVariableDeclaration(parent) || ts.isPropertyAssignment(parent))) return parent.name.getText();
  return '(anonymous)';
}

const functions = parsed.flatMap(functionsOf).sort((a, b) => b.lines - a.lines);
const lineCounts = files
  .map((path) => ({ path, lines: readFileSync(`${root}/${path}`, 'utf8').split('\n').length - 1 }))
  .sort((a, b) => b.lines - a.lines);
const edges = parsed.flatMap((file) => importsOf(root, file));
const upward = upwardImports(edges);
const cycles = importCycles(edges);
const duplicatesLine = execFileSync('duplicates', ['--seconds', '120'], { cwd: root, encoding: 'utf8' }).split('\n')[0] ?? '';

const over300 = lineCounts.filter((file) => file.lines > 300);
console.log(`source files: ${files.length}, lines: ${lineCounts.reduce((sum, file) => sum + file.lines, 0)}`);
console.log(`longest functions (lines):`);
for (const fn of functions.slice(0, 5)) console.log(`  ${fn.lines}  ${fn.name}`);
console.log(`files over 300 lines: ${over300.length}`);
for (const file of over300) console.log(`  ${file.lines}  ${file.path}`);
console.log(`imports running back up the floors: ${upward.length}`);
console.log(`import cycles: ${cycles.length} (${cycles.reduce((sum, cycle) => sum + cycle.length, 0)} modules)`);
console.log(`duplicates: ${duplicatesLine.match(/^(\d+) pairs/)?.[1] ?? duplicatesLine}`);
