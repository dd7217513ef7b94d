/**
 * The part of zod that drkit uses, as one module (`import * as z from './zod.js'`). The build
 * bundles its output into a single file that holds only these (scripts/bundle-zod.mjs):
 * loading zod itself reads some 230 modules, most of them locales for messages drkit never
 * shows, which cost every command about 6 MiB at start and a backup about 20 MiB at its peak.
 */

export type { core, infer, output, ZodType } from 'zod'
export {
  array,
  boolean,
  discriminatedUnion,
  enum,
  int,
  literal,
  NEVER,
  null,
  number,
  object,
  record,
  strictObject,
  string,
  union,
  unknown,
  url,
  ZodObject,
} from 'zod'
