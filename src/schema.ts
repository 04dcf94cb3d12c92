import { readdirSync, readFileSync } from 'node:fs';

/** The folder holding the SDL; one level up from both src/ and dist/. */
const SCHEMA_DIR = new URL('../schema/', import.meta.url);

/** The project's SDL: every schema/*.graphql file, directives first. */
export const typeDefs: string[] = readdirSync(SCHEMA_DIR)
  .filter((file) => file.endsWith('.graphql'))
  .sort((a, b) => (a === 'directives.graphql' ? -1 : b === 'directives.graphql' ? 1 : a.localeCompare(b)))
  .map((file) => readFileSync(new URL(file, SCHEMA_DIR), 'utf8'));
