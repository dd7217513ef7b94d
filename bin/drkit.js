#!/usr/bin/env node
import { main } from '../dist/cli/main.js'

// A reader that went away (`drkit snapshots --json | head`) is not drkit's failure: its work is done.
for (const stream of [process.stdout, process.stderr]) stream.on('error', () => undefined)
const code = await main(process.argv.slice(2))
// A pipe takes 64 KiB at once and the rest of a large result is written asynchronously:
// wait until stdout and stderr have taken everything before exiting.
const drained = (stream) => new Promise((resolve) => stream.write('', () => resolve()))
await Promise.all([drained(process.stdout), drained(process.stderr)])
process.exit(code)
