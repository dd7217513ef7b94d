/**
 * A byte queue between one producer and one consumer that holds at most `limit` bytes:
 * the producer waits in `push` while it is full. Lets a part of an image be read ahead
 * while the repository still consumes an earlier one, without unbounded memory.
 */
export class BoundedBuffer {
  private readonly chunks: Uint8Array[] = []
  private bytes = 0
  private ended = false
  private failure: unknown
  private closed = false
  private wakeConsumer: (() => void) | undefined
  private wakeProducer: (() => void) | undefined
  private onClose: () => void = () => undefined
  /** Resolves when the consumer will read no more (it has drained the buffer, or gone away). */
  readonly closing = new Promise<void>((resolve) => {
    this.onClose = resolve
  })

  constructor(private readonly limit: number) {}

  /** Adds a chunk; resolves once there is room for more (or the consumer went away). */
  async push(chunk: Uint8Array): Promise<void> {
    if (this.closed) return
    this.chunks.push(chunk)
    this.bytes += chunk.length
    this.wake()
    while (this.bytes >= this.limit && !this.closed) {
      await new Promise<void>((resolve) => {
        this.wakeProducer = resolve
      })
    }
  }

  end(err?: unknown): void {
    this.ended = true
    this.failure = err
    this.wake()
  }

  /** The consumer will read no more: a waiting producer is released. */
  close(): void {
    this.closed = true
    this.chunks.length = 0
    this.bytes = 0
    this.wakeProducer?.()
    this.onClose()
  }

  get isClosed(): boolean {
    return this.closed
  }

  async *drain(): AsyncIterable<Uint8Array> {
    try {
      for (;;) {
        const chunk = this.chunks.shift()
        if (chunk) {
          this.bytes -= chunk.length
          if (this.bytes < this.limit) this.wakeProducer?.()
          yield chunk
          continue
        }
        if (this.ended) {
          if (this.failure !== undefined) throw this.failure
          return
        }
        await new Promise<void>((resolve) => {
          this.wakeConsumer = resolve
        })
      }
    } finally {
      this.close()
    }
  }

  private wake(): void {
    const wake = this.wakeConsumer
    this.wakeConsumer = undefined
    wake?.()
  }
}

/**
 * Reads `source` ahead into a bounded buffer from now on: `data` yields what it read;
 * `close` stops the reading when `data` will not be consumed.
 */
export function readAhead(
  source: AsyncIterable<Uint8Array>,
  limit: number,
): { data: AsyncIterable<Uint8Array>; close: () => void } {
  const buffer = new BoundedBuffer(limit)
  void (async () => {
    try {
      for await (const chunk of source) {
        await buffer.push(chunk)
        if (buffer.isClosed) return
      }
      buffer.end()
    } catch (err) {
      buffer.end(err)
    }
  })()
  return { data: buffer.drain(), close: () => buffer.close() }
}
