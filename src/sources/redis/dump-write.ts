import { DrkitError } from '../../errors.js'
import { type RawConnection, type RawReply, RespBuilder } from './raw.js'

/** Keys per batch, payload bytes after which a batch goes early, and batches in flight. */
const batchKeys = 1000
const batchBytes = 4 * 1024 * 1024
const batchesInFlight = 4

/**
 * Writes DUMP payloads with `RESTORE key ttl payload REPLACE` on the bare connection, a
 * thousand keys per write, with the next batch sent while the server works on the one
 * before: the server does little more than RESTORE itself. Failures are reported by the
 * next `add`, `flush` or `settle`.
 */
export class DumpWriter {
  private readonly batch = new RespBuilder()
  private readonly inFlight: Promise<void>[] = []
  written = 0

  constructor(
    private readonly raw: RawConnection,
    private readonly where: string,
  ) {}

  /**
   * Queues a key with its remaining TTL in ms (null: no expiry); the key and the payload are
   * given as ranges of a record body, copied straight into the batch.
   */
  async add(body: Buffer, key: [number, number], payload: [number, number], ttlMs: number | null): Promise<void> {
    this.batch
      .command(5)
      .arg('RESTORE')
      .arg(body, key[0], key[1])
      .arg(String(ttlMs ?? 0))
      .arg(body, payload[0], payload[1])
      .arg('REPLACE')
    if (this.batch.count >= batchKeys || this.batch.size >= batchBytes) await this.flush()
  }

  /** Sends the queued keys once fewer than `batchesInFlight` batches are unanswered. */
  async flush(): Promise<void> {
    while (this.inFlight.length >= batchesInFlight) await this.inFlight.shift()
    if (this.batch.count === 0) return
    const count = this.batch.count
    const sent = this.raw.sendEncoded(this.batch.take(), count).then((replies) => this.check(replies, count))
    // Reported when awaited; never an unhandled rejection meanwhile.
    sent.catch(() => undefined)
    this.inFlight.push(sent)
  }

  /** Waits for every batch sent; call after the last flush. */
  async settle(): Promise<void> {
    while (this.inFlight.length > 0) await this.inFlight.shift()
  }

  private check(replies: RawReply[], count: number): void {
    const failed = replies.find((r) => r instanceof Error)
    if (failed) {
      throw new DrkitError(`writing into Redis at ${this.where} failed: ${(failed as Error).message}`, undefined, {
        cause: failed,
      })
    }
    this.written += count
  }
}
