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
  /** Arrays being received: the elements so far and how many are still to come. */
  private readonly open: { items: RawReply[]; left: number }[] = []
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
    const resp = new RespBuilder()
    for (const args of commands) {
      resp.command(args.length)
      for (const a of args) resp.arg(a)
    }
    return this.sendEncoded(resp.take(), commands.length)
  }

  /** Sends `count` commands already encoded as RESP (see `RespBuilder`); resolves to their replies. */
  sendEncoded(bytes: Buffer, count: number): Promise<RawReply[]> {
    if (this.failure) return Promise.reject(this.failure)
    return new Promise((done) => {
      this.waiting.push({ count, replies: [], done })
      this.socket.write(bytes)
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
      // Arrays are assembled element by element, so that a large one arriving in pieces is
      // parsed once, not again from its start with every piece.
      let reply: RawReply
      if ('array' in parsed) {
        if (parsed.array > 0) {
          this.open.push({ items: [], left: parsed.array })
          continue
        }
        reply = []
      } else reply = parsed.reply
      for (let top = this.open.at(-1); top; top = this.open.at(-1)) {
        top.items.push(reply)
        if (--top.left > 0) break
        this.open.pop()
        reply = top.items
      }
      if (this.open.length > 0) continue
      const head = this.waiting[0]!
      head.replies.push(reply)
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

/** Builds a batch of commands as RESP straight into one growing buffer: no objects per argument. */
export class RespBuilder {
  private out = Buffer.allocUnsafe(64 * 1024)
  private at = 0
  count = 0

  get size(): number {
    return this.at
  }

  /** Starts a command of `args` arguments. */
  command(args: number): this {
    this.reserve(16)
    this.at = writeHeader(this.out, this.at, 0x2a, args)
    this.count++
    return this
  }

  /** One argument: the bytes source[from, to). */
  arg(source: Buffer | string, from = 0, to = typeof source === 'string' ? -1 : source.length): this {
    const bytes = bytesOf(source)
    const end = to < 0 ? bytes.length : to
    this.reserve(16 + end - from)
    this.at = writeHeader(this.out, this.at, 0x24, end - from)
    this.at += bytes.copy(this.out, this.at, from, end)
    this.out[this.at++] = 13
    this.out[this.at++] = 10
    return this
  }

  /** The encoded commands; the builder starts over. */
  take(): Buffer {
    const done = this.out.subarray(0, this.at)
    this.out = Buffer.allocUnsafe(Math.max(64 * 1024, this.out.length))
    this.at = 0
    this.count = 0
    return done
  }

  private reserve(n: number): void {
    if (this.at + n <= this.out.length) return
    const bigger = Buffer.allocUnsafe(Math.max(2 * this.out.length, this.at + n))
    this.out.copy(bigger, 0, 0, this.at)
    this.out = bigger
  }
}

/** The integer in buf[from, to) (an optional minus sign, then digits). */
function readInt(buf: Buffer, from: number, to: number): number {
  const negative = buf[from] === 0x2d
  let n = 0
  for (let i = negative ? from + 1 : from; i < to; i++) n = n * 10 + (buf[i]! - 48)
  return negative ? -n : n
}

type Parsed = { reply: RawReply; end: number } | { array: number; end: number } | { need: number }

/**
 * One reply starting at `at` (of an array, only its length), or how far the buffer must
 * reach before it holds all of it.
 */
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
  if (kind === 0x2a) return n < 0 ? { reply: null, end: eol + 2 } : { array: n, end: eol + 2 }
  throw new DrkitError(`Redis sent a reply drkit does not understand (type byte ${kind})`)
}
