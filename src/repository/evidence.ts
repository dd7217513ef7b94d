import { randomUUID } from 'node:crypto'
import type { Backend } from './backends/backend.js'
import { decodeJson, encodeJson } from './compress.js'
import type { Codec } from './crypto/codec.js'
import { keys } from './format.js'

/**
 * Evidence: results that prove (or disprove) recovery, kept in the repository so that
 * losing the machine that ran drkit loses none of it. `status` and `report` read them.
 */
export const evidenceKinds = ['verify', 'drill', 'retention'] as const
export type EvidenceKind = (typeof evidenceKinds)[number]

export interface EvidenceRecord<Body = unknown> {
  kind: EvidenceKind
  id: string
  /** When the work finished (ISO 8601). */
  time: string
  /** The resource it is about; absent for whole-repository results. */
  resource?: string
  ok: boolean
  /** The kind's own document: a verification's findings, a drill's report. */
  body: Body
}

/** Stores a record; its key sorts by time, so listing returns them oldest first. */
export async function writeEvidence<Body>(
  backend: Backend,
  record: Omit<EvidenceRecord<Body>, 'id'> & { id?: string },
  codec: Codec,
): Promise<EvidenceRecord<Body>> {
  const stored = { ...record, id: record.id ?? randomUUID() }
  await backend.put(keys.evidence(stored.kind, stored.time, stored.id), encodeJson(stored, codec))
  return stored
}

/** Records of one kind, oldest first, optionally of one resource or since a time. */
export async function listEvidence<Body = unknown>(
  backend: Backend,
  kind: EvidenceKind,
  codec: Codec,
  opts: { resource?: string; since?: Date } = {},
): Promise<EvidenceRecord<Body>[]> {
  const found: EvidenceRecord<Body>[] = []
  for await (const { key } of backend.list(keys.evidencePrefix(kind))) {
    const record = decodeJson<EvidenceRecord<Body>>(await backend.get(key), `evidence ${key}`, codec)
    if (opts.resource !== undefined && record.resource !== opts.resource) continue
    if (opts.since && Date.parse(record.time) < opts.since.getTime()) continue
    found.push(record)
  }
  return found.sort((a, b) => a.time.localeCompare(b.time) || a.id.localeCompare(b.id))
}
