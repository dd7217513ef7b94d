/**
 * Sources: one adapter per resource type. Adding a type is a folder beside these and one
 * line in `sources` below. Sources know nothing of the repository: they produce and
 * consume streams, and ops/ carries those to and from the repository.
 */
import { files } from './files/index.js'
import { postgres } from './postgres/index.js'
import { redis } from './redis/index.js'
import type { SourceDefinition } from './source.js'
import { sqlite } from './sqlite/index.js'

export const sources = {
  sqlite,
  files,
  redis,
  postgres,
} satisfies Record<string, SourceDefinition<unknown>>

export type SourceType = keyof typeof sources

export * from './source.js'
