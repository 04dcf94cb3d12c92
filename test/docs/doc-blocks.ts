/**
 * The shell examples of README.md and docs/*.md, as the doc test (doc-examples.test.ts) runs them.
 *
 * Every ```sh (or bash, shell) block is preceded by one marker line:
 * - `<!-- doc-test: run -->`: run by the doc test; the fenced ```json or ```text block right after
 *   it (only blank lines between) is what it prints on stdout; no such block: it prints nothing;
 * - `<!-- doc-test: not run -->`: not run; the test lists why (NOT_RUN in doc-examples.test.ts).
 *
 * In an expected output, `…` stands for any characters within one line. Both sides are masked
 * first (see {@link mask}): times, JWTs and curl's version differ at every run.
 */
import { readdirSync, readFileSync } from 'node:fs';

export const RUN_MARKER = '<!-- doc-test: run -->';
export const NOT_RUN_MARKER = '<!-- doc-test: not run -->';

const SHELL_LANGUAGES = new Set(['sh', 'bash', 'shell', 'console', 'zsh']);
const OUTPUT_LANGUAGES = new Set(['json', 'text']);

/** One shell block of a document. */
export interface ShellBlock {
  /** e.g. `docs/api.md`. */
  readonly file: string;
  /** 1-based line of the opening fence. */
  readonly line: number;
  readonly marker: 'run' | 'not run' | undefined;
  readonly code: string;
  /** The output block's content, when one follows. */
  readonly expected: string | undefined;
}

/** README.md and every docs/*.md, relative to `root`. */
export function documentFiles(root: URL): string[] {
  return ['README.md', ...readdirSync(new URL('docs/', root)).filter((name) => name.endsWith('.md')).sort().map((name) => `docs/${name}`)];
}

/** The shell blocks of one document, in order. */
export function shellBlocks(root: URL, file: string): ShellBlock[] {
  const lines = readFileSync(new URL(file, root), 'utf8').split('\n');
  const fences: { language: string; start: number; end: number; content: string }[] = [];
  for (let i = 0; i < lines.length; i += 1) {
    const open = /^```(\S*)\s*$/.exec(lines[i]!);
    if (!open) continue;
    let end = i + 1;
    while (end < lines.length && !/^```\s*$/.test(lines[end]!)) end += 1;
    fences.push({ language: open[1]!, start: i, end, content: lines.slice(i + 1, end).join('\n') });
    i = end;
  }
  const blocks: ShellBlock[] = [];
  fences.forEach((fence, index) => {
    if (!SHELL_LANGUAGES.has(fence.language)) return;
    let before = fence.start - 1;
    while (before >= 0 && lines[before]!.trim() === '') before -= 1;
    const markerLine = before >= 0 ? lines[before]!.trim() : '';
    const marker = markerLine === RUN_MARKER ? 'run' : markerLine === NOT_RUN_MARKER ? 'not run' : undefined;
    const next = fences[index + 1];
    const adjacent = next !== undefined && OUTPUT_LANGUAGES.has(next.language) && lines.slice(fence.end + 1, next.start).every((line) => line.trim() === '');
    blocks.push({ file, line: fence.start + 1, marker, code: fence.content, expected: adjacent ? next.content : undefined });
  });
  return blocks;
}

/** Values that differ at every run, replaced by the same text on both sides. */
export function mask(text: string): string {
  return text
    .replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z/g, '<time>')
    .replace(/eyJ[A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]*){0,2}…?/g, 'eyJ…')
    .replace(/curl\/[0-9.]+/g, 'curl/…')
    .split('\n')
    .map((line) => line.trimEnd())
    .join('\n')
    .trim();
}

/** Does `actual` match `expected`, where `…` in expected is any run of characters within a line? */
export function matchesExpected(actual: string, expected: string): boolean {
  const pattern = mask(expected)
    .split('…')
    .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
    .join('[^\\n]*?');
  return new RegExp(`^${pattern}$`).test(mask(actual));
}
