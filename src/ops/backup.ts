import { NotFoundError } from '../errors.js'
import { chunkPages } from '../repository/chunk/index.js'
import type { Repository, RepositoryWriter, Snapshot, StreamRef } from '../repository/index.js'
import type { ParentImage } from '../sources/index.js'
import type { OpsContext } from './context.js'

export interface BackupOptions {
  /** How long to wait for another backup of the same resource; 0 fails at once. */
  waitMs?: number
  /** Read everything, trusting nothing of the previous snapshot (sources that reuse it: files). */
  readAll?: boolean
  signal?: AbortSignal
}

export interface BackupResult {
  resource: string
  snapshot: Snapshot
}

/**
 * Takes a snapshot of one resource: the resource's writer lock first, then a consistent
 * image from the source, chunked and stored stream by stream, committed at the end. A
 * source that can (files) is handed the previous snapshot and names the streams that have
 * not changed since; those are referenced as they are stored, not read again.
 */
export async function backup(ctx: OpsContext, resource: string, opts: BackupOptions = {}): Promise<BackupResult> {
  const { type } = ctx.resource(resource)
  const repository = await ctx.repository()
  const source = await ctx.openSource(resource)
  try {
    const snapshot = await repository.write(
      resource,
      async (writer) => {
        const parent =
          source.capabilities.reusesParent && !opts.readAll
            ? await parentImage(repository, writer, resource, type)
            : undefined
        const image = await source.snapshot({ signal: opts.signal, parent: parent?.image })
        const refs: StreamRef[] = []
        for await (const stream of image.streams) {
          if ('sameAsParent' in stream) {
            refs.push(writer.reuseStream(parent!.stream(stream.name)))
            continue
          }
          refs.push(
            stream.chunking.kind === 'pages'
              ? await writer.writeStream(
                  stream.name,
                  stream.chunking,
                  chunkPages(stream.data, stream.chunking.pageSize),
                )
              : await writer.writeCdcStream(stream.name, stream.data),
          )
        }
        const { position, tables, details } = image
        return writer.commitSnapshot({ sourceType: type, position, tables, details }, refs)
      },
      { waitMs: opts.waitMs ?? 0, command: `backup ${resource}` },
    )
    return { resource, snapshot }
  } finally {
    await source.close()
  }
}

/** The resource's latest snapshot of the same type, with the streams a new snapshot may reference. */
async function parentImage(repository: Repository, writer: RepositoryWriter, resource: string, type: string) {
  const latest = (await repository.listSnapshots(resource)).filter((s) => s.sourceType === type).at(-1)
  if (!latest) return undefined
  const streams = new Map(latest.streams.map((ref) => [ref.name, ref]))
  const stream = (name: string): StreamRef => {
    const ref = streams.get(name)
    if (!ref) throw new NotFoundError(`the parent snapshot ${latest.id.slice(0, 8)} has no stream ${name}`)
    return ref
  }
  const image: ParentImage = {
    id: latest.id,
    details: latest.details,
    has: (name) => streams.has(name) && writer.canReuse(streams.get(name)!),
    read: (name) => repository.readStream(stream(name), `${resource} snapshot ${latest.id.slice(0, 8)}`),
  }
  return { image, stream }
}
