#!/usr/bin/env node
/** The `graphql-revoke` command (package.json "bin"): see run.ts, or run it with --help. */
import { runCli } from './run.js';

process.exitCode = await runCli(process.argv.slice(2), {
  env: process.env,
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
});
