import { DrkitError } from '../../../errors.js'
import type { Row } from '../../../model.js'
import type { RowKey, StoredImage } from '../../source.js'
import { displayName, quotedName } from '../catalog.js'
import { copyFields, copyLines, copyValue } from './copy-text.js'

interface ImageTable {
  schema: string
  name: string
  columns: string[]
}

/**
 * Finds rows by key in a snapshot's table streams (COPY text), one pass per stream, holding
 * only the rows asked for. A key names the columns that identify the row (its primary key,
 * or every column); a row matches when each of them has the same text form.
 */
export async function storedRows(image: StoredImage, keys: RowKey[]): Promise<(Row | null)[]> {
  const tables = new Map(
    (JSON.parse(String(image.details.tables ?? '[]')) as ImageTable[]).map((t) => [`data:${quotedName(t)}`, t]),
  )
  const wanted = new Map<string, Map<string, number[]>>()
  for (const [i, { table, key }] of keys.entries()) {
    const byKey = wanted.get(table) ?? new Map<string, number[]>()
    wanted.set(table, byKey)
    const id = identity(Object.keys(key).map((k) => key[k] ?? null))
    const same = byKey.get(id)
    if (same) same.push(i)
    else byKey.set(id, [i])
  }
  const found: (Row | null)[] = keys.map(() => null)
  for await (const stream of image.streams) {
    const table = tables.get(stream.name)
    const byKey = table && wanted.get(displayName(table))
    if (!table || !byKey) continue
    const keyColumns = Object.keys(keys[byKey.values().next().value![0]!]!.key)
    const positions = keyColumns.map((k) => table.columns.indexOf(k))
    if (positions.some((p) => p < 0)) {
      throw new DrkitError(`the snapshot's table ${displayName(table)} lacks a key column (${keyColumns.join(', ')})`)
    }
    for await (const line of copyLines(stream.data)) {
      const fields = copyFields(line)
      const at = byKey.get(identity(positions.map((p) => copyValue(fields[p]!))))
      if (!at) continue
      const row: Row = {}
      table.columns.forEach((c, i) => {
        row[c] = copyValue(fields[i]!)
      })
      for (const i of at) found[i] ??= row
    }
  }
  return found
}

function identity(values: unknown[]): string {
  return JSON.stringify(values)
}
