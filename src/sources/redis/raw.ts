import { connect as netConnect, type Socket } from 'node:net'
import { connect as tlsConnect } from 'node:tls'
import { DrkitError } from '../../errors.js'
import type { RedisAddress } from './client.js'

/** A reply: simple string, integer, bulk string (null when absent), array, or the server's error. */
export type RawReply = string | number | Buffer | null | RawReply[] | RedisReplyError

export class RedisReplyError extends Error {}

/**
 * A bare RESP2 connection for the two hot paths of the Redis source, DUMP on backup and
 * RESTORE on restore: commands are encoded straight into one buffer per batch and replies
 * parsed in place, with none of a general client's per-command objects (which cost more than
 * the server's own work for a million small keys). Batches are answered in order; several
 * may be in flight.
 */
export class RawConnection {
  /** Received bytes not parsed yet, and how many must be there before parsing is worth trying again. */
  private chunks: Buffer[] = []
  private length = 0
  private need = 0
  private readonly waiting: { count: number; replies: RawReply[]; done: (r: RawReply[]) => void }[] = []
  private failure: Error | undefined

  private constructor(private readonly socket: Socket) {
    const fail = (err: Error) => {
      this.failure ??= err
      for (const w of this.waiting.splice(0)) w.done([err as RedisReplyError])
    }
    socket.on('data', (data: Buffer) => {
      try {
        this.receive(data)
      } catch (err) {
        fail(err as Error)
        socket.destroy()
      }
    })
    socket.on('error', fail)
    socket.on('close', () => fail(new Error('the connection closed')))
  }

  /** Connects, authenticates and selects the address's database; DrkitError naming host:port when it cannot. */
  static async open(address: RedisAddress & { url: URL }, what: string): Promise<RawConnection> {
    const options = { host: address.host, port: address.port }
    const socket = address.tls ? tlsConnect({ ...options, servername: address.host }) : netConnect(options)
    socket.setNoDelay(true)
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once(address.tls ? 'secureConnect' : 'connect', () => resolve())
        socket.once('error', reject)
      })
    } catch (cause) {
      socket.destroy()
      throw new DrkitError(`${what}: cannot reach Redis at ${address.host}:${address.port}`, undefined, { cause })
    }
    const connection = new RawConnection(socket)
    const user = decodeURIComponent(address.url.username)
    const password = decodeURIComponent(address.url.password)
    const setup: (string | Buffer)[][] = []
    if (password) setup.push(user ? ['AUTH', user, password] : ['AUTH', password])
    setup.push(['SELECT', String(address.db)])
    for (const reply of await connection.send(setup)) {
      if (reply instanceof Error) {
        connection.close()
        throw new DrkitError(`${what}: Redis at ${address.host}:${address.port} refused: ${reply.message}`)
      }
    }
    return connection
  }

  /** Sends the commands in one write; resolves to their replies, in order (errors as values). */
  send(commands: (string | Buffer)[][]): Promise<RawReply[]> {
    if (this.failure) return Promise.reject(this.failure)
    return new Promise((done) => {
      this.waiting.push({ count: commands.length, replies: [], done })
      this.socket.write(encode(commands))
    })
  }

  close(): void {
    this.socket.end()
    this.socket.destroy()
  }

  private receive(data: Buffer): void {
    this.chunks.push(data)
    this.length += data.length
    // A large bulk reply arrives in many pieces: they are joined once it is all there.
    if (this.length < this.need) return
    const buf = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks)
    let at = 0
    this.need = 0
    while (this.waiting.length > 0) {
      const parsed = parse(buf, at)
      if ('need' in parsed) {
        this.need = parsed.need - at
        break
      }
      at = parsed.end
      const head = this.waiting[0]!
      head.replies.push(parsed.reply)
      if (head.replies.length === head.count) {
        this.waiting.shift()
        head.done(head.replies)
      }
    }
    const rest = buf.subarray(at)
    this.chunks = rest.length > 0 ? [rest] : []
    this.length = rest.length
  }
}

/** Command names and other constant words, encoded once. */
const words = new Map<string, Buffer>()

function bytesOf(a: string | Buffer): Buffer {
  if (typeof a !== 'string') return a
  let b = words.get(a)
  if (!b) {
    b = Buffer.from(a)
    if (words.size < 64) words.set(a, b)
  }
  return b
}

/** Writes `<prefix><n>\r\n` at `at` (n a non-negative integer); returns the new offset. */
function writeHeader(out: Buffer, at: number, prefix: number, n: number): number {
  out[at++] = prefix
  if (n === 0) out[at++] = 48
  else {
    const start = at
    for (let v = n; v > 0; v = Math.floor(v / 10)) out[at++] = 48 + (v % 10)
    out.subarray(start, at).reverse()
  }
  out[at++] = 13
  out[at++] = 10
  return at
}

/** Commands as RESP arrays of bulk strings, in one buffer. */
function encode(commands: (string | Buffer)[][]): Buffer {
  let size = 0
  for (const args of commands) {
    size += 16
    for (const a of args) size += 16 + (typeof a === 'string' ? Buffer.byteLength(a) : a.length)
  }
  const out = Buffer.allocUnsafe(size)
  let at = 0
  for (const args of commands) {
    at = writeHeader(out, at, 0x2a, args.length)
    for (const a of args) {
      const bytes = bytesOf(a)
      at = writeHeader(out, at, 0x24, bytes.length)
      at += bytes.copy(out, at)
      out[at++] = 13
      out[at++] = 10
    }
  }
  return out.subarray(0, at)
}

/** The integer in buf[from, to) (an optional minus sign, then digits). */
function readInt(buf: Buffer, from: number, to: number): number {
  const negative = buf[from] === 0x2d
  let n = 0
  for (let i = negative ? from + 1 : from; i < to; i++) n = n * 10 + (buf[i]! - 48)
  return negative ? -n : n
}

type Parsed = { reply: RawReply; end: number } | { need: number }

/** One reply starting at `at`, or how far the buffer must reach before it holds all of it. */
function parse(buf: Buffer, at: number): Parsed {
  // Lines end in \r\n; no header line holds a \r before its end.
  const eol = buf.indexOf(13, at)
  if (eol < 0 || eol + 1 >= buf.length) return { need: Math.max(buf.length + 1, eol + 2) }
  const kind = buf[at]
  if (kind === 0x2b) return { reply: buf.toString('latin1', at + 1, eol), end: eol + 2 }
  if (kind === 0x2d) return { reply: new RedisReplyError(buf.toString('utf8', at + 1, eol)), end: eol + 2 }
  const n = readInt(buf, at + 1, eol)
  if (kind === 0x3a) return { reply: n, end: eol + 2 }
  if (kind === 0x24) {
    if (n < 0) return { reply: null, end: eol + 2 }
    const end = eol + 2 + n + 2
    return end > buf.length ? { need: end } : { reply: buf.subarray(eol + 2, eol + 2 + n), end }
  }
  if (kind === 0x2a) {
    if (n < 0) return { reply: null, end: eol + 2 }
    const items: RawReply[] = []
    let next = eol + 2
    for (let i = 0; i < n; i++) {
      const item = parse(buf, next)
      if ('need' in item) return item
      items.push(item.reply)
      next = item.end
    }
    return { reply: items, end: next }
  }
  throw new DrkitError(`Redis sent a reply drkit does not understand (type byte ${kind})`)
}
