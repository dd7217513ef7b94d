import { chunkPages, chunkStream } from '../repository/chunk/index.js'
import type { Snapshot, StreamRef } from '../repository/index.js'
import type { OpsContext } from './context.js'

export interface BackupOptions {
  /** How long to wait for another backup of the same resource; 0 fails at once. */
  waitMs?: number
  signal?: AbortSignal
}

export interface BackupResult {
  resource: string
  snapshot: Snapshot
}

/**
 * Takes a snapshot of one resource: the resource's writer lock first, then a consistent
 * image from the source, chunked and stored stream by stream, committed at the end.
 */
export async function backup(ctx: OpsContext, resource: string, opts: BackupOptions = {}): Promise<BackupResult> {
  const { type } = ctx.resource(resource)
  const repository = await ctx.repository()
  const source = await ctx.openSource(resource)
  try {
    const snapshot = await repository.write(
      resource,
      async (writer) => {
        const image = await source.snapshot({ signal: opts.signal })
        const refs: StreamRef[] = []
        for await (const stream of image.streams) {
          const chunks =
            stream.chunking.kind === 'pages'
              ? chunkPages(stream.data, stream.chunking.pageSize)
              : chunkStream(stream.data)
          refs.push(await writer.writeStream(stream.name, stream.chunking, chunks))
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
