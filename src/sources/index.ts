/**
 * Sources: one adapter per resource type. Adding a type is a folder beside these and one
 * line in `sources` below. Sources know nothing of the repository: they produce and
 * consume streams, and ops/ carries those to and from the repository.
 */
import type { SourceDefinition } from './source.js'
import { sqlite } from './sqlite/index.js'

export const sources = {
  sqlite,
} satisfies Record<string, SourceDefinition<unknown>>

export type SourceType = keyof typeof sources

export * from './source.js'
