#!/usr/bin/env node
import { main } from '../dist/cli/main.js'

// stdout and stderr are synchronous for files and pipes on POSIX, so exiting loses no output.
process.exit(await main(process.argv.slice(2)))
