#!/usr/bin/env bash
# The whole test suite: format and lint, type check, build (the CLI tests run the built
# binary, as users do), then the tests against real SQLite files, Redis and a local S3 server.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== services the tests need"
bash scripts/setup-services.sh
node scripts/check-services.mjs
echo "== lint and format (biome)"
npx biome check .
echo "== type check (tsc)"
npx tsc -p tsconfig.json --noEmit
echo "== build"
npm run --silent build
echo "== tests (vitest)"
npx vitest run "$@"
