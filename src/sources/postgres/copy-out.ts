import { Readable } from 'node:stream'
import type { Connection } from 'pg'

const copyOutResponse = 0x48 // H
const copyData = 0x64 // d
const copyDone = 0x63 // c
// Asynchronous messages the server may send in the middle of a COPY: skipped.
const noticeResponse = 0x4e // N
const parameterStatus = 0x53 // S
const notificationResponse = 0x41 // A

/**
 * `COPY ... TO STDOUT` as a byte stream of the rows, submitted to a pg client
 * (`client.query(new CopyOut(sql))`). It takes over the connection's socket as
 * pg-copy-streams does, but strips the protocol in place: each row arrives as a CopyData
 * message of its own, and the payloads are moved together inside the socket's buffer
 * (one `copyWithin` per row), so a socket read becomes one chunk of rows without a Buffer
 * per row. For a table of millions of short rows that was most of the main thread's time.
 *
 * Any message other than the COPY's own (an ErrorResponse, or the CommandComplete after
 * CopyDone) and everything after it is handed back to pg, which completes the query.
 */
export class CopyOut extends Readable {
  /** CopyData messages seen: with COPY TO, one per row. */
  rows = 0
  private connection: Connection | undefined
  private pgHandler: ((chunk: Buffer) => void) | undefined
  /** The bytes of a message header (code and length) that a socket read cut short. */
  private header = Buffer.alloc(5)
  private headerBytes = 0
  private code = 0
  /** Bytes of the current message's payload still to come. */
  private left = 0
  private wanted = false
  private forwarding = false
  private finished = false
  private ended = false
  private readonly onReadable = () => this.forward()

  constructor(private readonly text: string) {
    super()
  }

  submit(connection: Connection): void {
    this.connection = connection
    const stream = connection.stream
    const handlers = stream.listeners('data') as ((chunk: Buffer) => void)[]
    if (handlers.length !== 1) throw new Error(`COPY: expected one reader on the connection, found ${handlers.length}`)
    this.pgHandler = handlers[0]
    stream.removeListener('data', this.pgHandler!)
    stream.pause()
    stream.on('readable', this.onReadable)
    connection.query(this.text)
  }

  override _read(): void {
    this.wanted = true
    this.forward()
  }

  private forward(): void {
    if (this.forwarding || !this.connection || this.finished) return
    this.forwarding = true
    while (this.wanted && !this.finished) {
      const chunk = this.connection.stream.read() as Buffer | null
      if (chunk === null) break
      const rows = this.parse(chunk)
      if (rows.length > 0) this.wanted = this.push(rows)
    }
    this.forwarding = false
  }

  /** The rows in `chunk`, moved to its start; on the COPY's end, gives the rest back to pg. */
  private parse(chunk: Buffer): Buffer {
    let out = 0
    let pos = 0
    while (pos < chunk.length) {
      if (this.left > 0) {
        const n = Math.min(this.left, chunk.length - pos)
        if (this.code === copyData) {
          if (out !== pos) chunk.copyWithin(out, pos, pos + n)
          out += n
        }
        pos += n
        this.left -= n
        if (this.left > 0) break
        if (this.code === copyDone) return this.handBack(chunk, out, pos, true)
        continue
      }
      const take = Math.min(5 - this.headerBytes, chunk.length - pos)
      // The header is read in place when whole in this chunk, copied aside when cut short.
      const whole = this.headerBytes === 0 && take === 5
      if (!whole) {
        chunk.copy(this.header, this.headerBytes, pos, pos + take)
        this.headerBytes += take
        if (this.headerBytes < 5) return chunk.subarray(0, out)
      }
      const code = whole ? chunk[pos]! : this.header[0]!
      if (!isCopyMessage(code)) {
        // Not ours: pg reads it from its first byte (the part copied aside comes first).
        const start = whole ? pos : pos + take
        const prefix = whole ? undefined : this.header.subarray(0, this.headerBytes)
        return this.handBack(chunk, out, start, false, prefix)
      }
      const length = whole ? chunk.readUInt32BE(pos + 1) : this.header.readUInt32BE(1)
      pos += take
      this.headerBytes = 0
      this.code = code
      this.left = length - 4
      if (code === copyData) this.rows++
      if (this.left === 0 && code === copyDone) return this.handBack(chunk, out, pos, true)
    }
    return chunk.subarray(0, out)
  }

  /**
   * Pushes the rows before `out` and gives pg what follows `from`. After CopyDone the rows
   * are complete (`end`); otherwise pg reads the message that cut the COPY short and calls
   * handleError (or handleReadyForQuery, which ends the stream then).
   */
  private handBack(chunk: Buffer, out: number, from: number, end: boolean, prefix?: Buffer): Buffer {
    this.finished = true
    const rest = prefix ? Buffer.concat([prefix, chunk.subarray(from)]) : chunk.subarray(from)
    const rows = chunk.subarray(0, out)
    const stream = this.connection!.stream
    stream.removeListener('readable', this.onReadable)
    stream.on('data', this.pgHandler!)
    if (rows.length > 0) this.push(rows)
    if (end) this.end()
    if (rest.length > 0) this.pgHandler!(rest)
    // Resumed once pg's handler has run: it may pause the socket itself.
    process.nextTick(() => stream.resume())
    return Buffer.alloc(0)
  }

  private end(): void {
    if (this.ended) return
    this.ended = true
    this.push(null)
  }

  handleError(err: Error): void {
    this.ended = true
    this.destroy(err)
  }

  handleCommandComplete(): void {}

  handleReadyForQuery(): void {
    this.end()
  }
}

function isCopyMessage(code: number): boolean {
  return (
    code === copyData ||
    code === copyOutResponse ||
    code === copyDone ||
    code === noticeResponse ||
    code === parameterStatus ||
    code === notificationResponse
  )
}
