// Replaces the compiled src/plan/zod.ts with one file holding only the parts of zod it
// names (esbuild drops the rest, with zod's locales), so a command loads 200 KB at once
// instead of zod's 230 modules. Run by `npm run build`, after tsc.
import { build } from 'esbuild'

await build({
  entryPoints: ['dist/plan/zod.js'],
  outfile: 'dist/plan/zod.js',
  allowOverwrite: true,
  bundle: true,
  platform: 'node',
  format: 'esm',
  logLevel: 'warning',
})
