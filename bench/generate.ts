/**
 * The benchmark's application database: users, orders and events with JSON-ish text,
 * integers and secondary indexes, grown in rounds (as a real database grows, so table and
 * index pages interleave in the file) until it reaches the requested size. The content is
 * a pure function of the seed, so every run and every machine benchmarks the same data.
 */
import { existsSync } from 'node:fs'
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import Database from 'better-sqlite3'

/** Bump when the schema or the content changes, so cached databases are not reused. */
export const generatorVersion = 1

/** A small, fast, seedable PRNG (mulberry32) with the helpers the generator needs. */
export class Rand {
  private state: number

  constructor(seed: number) {
    this.state = seed >>> 0
  }

  /** A float in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0
    let t = this.state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n)
  }

  /** An integer in [lo, hi]. */
  between(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1)
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!
  }

  hex(length: number): string {
    let out = ''
    while (out.length < length) out += this.int(0x100000000).toString(16).padStart(8, '0')
    return out.slice(0, length)
  }

  words(count: number): string {
    const out: string[] = []
    for (let i = 0; i < count; i++) out.push(this.pick(vocabulary))
    return out.join(' ')
  }
}

const vocabulary = (
  'the a of to and in is for on with that this it as at by from be are was or an have not ' +
  'order shipped delivered refund invoice payment card account customer support ticket issue ' +
  'update feature request please thanks hello team project deadline meeting review release ' +
  'version deploy server database backup restore error warning timeout retry latency queue ' +
  'product price discount coupon cart checkout address street city country phone email ' +
  'morning evening today tomorrow yesterday week month quarter year report summary dashboard ' +
  'login logout password reset verify confirm cancel subscribe upgrade downgrade trial plan ' +
  'blue green red small large medium fast slow new old good great bad quick simple complex ' +
  'coffee garden travel music photo video book kitchen office home family friend weekend'
).split(' ')
const firstNames = (
  'Ada Alan Grace Linus Ken Dennis Barbara Edsger Donald Margaret John Tim Vint Radia Frances ' +
  'Leslie Niklaus Bjarne Guido James Anders Yukihiro Rich Brendan Sophie Hedy Katherine Mary'
).split(' ')
const lastNames = (
  'Lovelace Turing Hopper Torvalds Thompson Ritchie Liskov Dijkstra Knuth Hamilton McCarthy ' +
  'Berners-Lee Cerf Perlman Allen Lamport Wirth Stroustrup Rossum Gosling Hejlsberg Matsumoto ' +
  'Hickey Eich Wilson Lamarr Johnson Jackson'
).split(' ')
const domains = ['example.com', 'example.org', 'mail.example', 'corp.example', 'inbox.example']
const countries = ['US', 'DE', 'FR', 'GB', 'JP', 'BR', 'IN', 'CA', 'AU', 'ES', 'IT', 'NL', 'SE', 'PL', 'MX']
const plans = ['free', 'free', 'free', 'pro', 'pro', 'team', 'enterprise']
const statuses = ['pending', 'paid', 'paid', 'shipped', 'shipped', 'delivered', 'delivered', 'refunded', 'cancelled']
const currencies = ['USD', 'EUR', 'GBP', 'JPY']
const kinds = ['page_view', 'page_view', 'page_view', 'click', 'click', 'search', 'add_to_cart', 'checkout', 'login']
const paths = ['/', '/products', '/products/', '/cart', '/checkout', '/account', '/search', '/blog/', '/help/']
const referrers = ['https://www.google.com/search?q=', 'https://news.example/item?id=', '', '', 'https://t.example/']
const agents = [
  'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_2) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Safari/605.1.15',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148',
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0',
]
const languages = ['en-US', 'de-DE', 'fr-FR', 'ja-JP', 'pt-BR', 'es-ES']

/** Seconds since the epoch at which the generated history starts (2024-01-01). */
const epoch = 1_704_067_200

export const schema = `
  CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    country TEXT NOT NULL,
    plan TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    bio TEXT
  );
  CREATE INDEX users_created_at ON users(created_at);
  CREATE TABLE orders (
    id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id),
    status TEXT NOT NULL,
    total_cents INTEGER NOT NULL,
    currency TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    items TEXT NOT NULL,
    note TEXT
  );
  CREATE INDEX orders_user_created ON orders(user_id, created_at);
  CREATE INDEX orders_status_created ON orders(status, created_at);
  CREATE TABLE events (
    id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL,
    kind TEXT NOT NULL,
    at INTEGER NOT NULL,
    payload TEXT NOT NULL
  );
  CREATE INDEX events_user_at ON events(user_id, at);
  CREATE INDEX events_kind_at ON events(kind, at);
`

/** Rows added per round; one round is one transaction of roughly 12 MiB. */
const perRound = { users: 2_000, orders: 10_000, events: 20_000 }

export function bio(r: Rand): string {
  return r.words(r.between(10, 50))
}

export function items(r: Rand): string {
  const list = []
  for (let i = r.between(1, 4); i > 0; i--) {
    list.push({ sku: `SKU-${r.between(1000, 99999)}`, qty: r.between(1, 5), price: r.between(199, 49999) })
  }
  return JSON.stringify(list)
}

export function payload(r: Rand, kind: string): string {
  const path = r.pick(paths)
  const ref = r.pick(referrers)
  return JSON.stringify({
    v: 2,
    kind,
    path: path.endsWith('/') && path.length > 1 ? path + r.between(1, 50000) : path,
    ref: ref === '' ? null : ref + r.words(2).replaceAll(' ', '+'),
    ua: r.pick(agents),
    sid: r.hex(16),
    ip: `10.${r.int(256)}.${r.int(256)}.${r.int(256)}`,
    props: { lang: r.pick(languages), ab: r.pick(['A', 'B']), cart: r.int(6), ms: r.between(5, 3000) },
    msg: r.words(r.between(3, 25)),
  })
}

export interface GeneratedDatabase {
  path: string
  bytes: number
  rows: { users: number; orders: number; events: number }
  /** Whether it was generated now (false: reused from the cache). */
  generated: boolean
  seconds: number
}

/**
 * The cached database for this size and seed, generated first when it is not there.
 * Generation writes a temporary file and renames it when complete, so an interrupted
 * run never leaves a truncated database that a later run would reuse.
 */
export async function ensureDatabase(
  cacheDir: string,
  targetBytes: number,
  seed: number,
  log: (line: string) => void,
): Promise<GeneratedDatabase> {
  const path = join(cacheDir, `app-${targetBytes}-seed${seed}-v${generatorVersion}.db`)
  const started = performance.now()
  // The row counts are kept beside the database: opening the cached file with SQLite would
  // leave -wal and -shm files beside it.
  const meta = `${path}.json`
  if (existsSync(path) && existsSync(meta)) {
    const rows = JSON.parse(await readFile(meta, 'utf8')) as GeneratedDatabase['rows']
    return { path, bytes: (await stat(path)).size, rows, generated: false, seconds: 0 }
  }
  await mkdir(dirname(path), { recursive: true })
  const temp = `${path}.tmp`
  for (const suffix of ['', '-wal', '-shm']) await rm(temp + suffix, { force: true })
  const db = new Database(temp)
  try {
    db.pragma('journal_mode = WAL')
    db.pragma('synchronous = OFF')
    db.pragma('cache_size = -524288') // 512 MiB: the random index inserts stay in memory
    db.exec(schema)
    const addUser = db.prepare(
      'INSERT INTO users (id, email, name, country, plan, created_at, bio) VALUES (?, ?, ?, ?, ?, ?, ?)',
    )
    const addOrder = db.prepare(
      'INSERT INTO orders (id, user_id, status, total_cents, currency, created_at, items, note) ' +
        'VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    )
    const addEvent = db.prepare('INSERT INTO events (id, user_id, kind, at, payload) VALUES (?, ?, ?, ?, ?)')
    const r = new Rand(seed)
    const rows = { users: 0, orders: 0, events: 0 }
    const pageSize = Number(db.pragma('page_size', { simple: true }))
    let clock = epoch
    const round = db.transaction(() => {
      for (let i = 0; i < perRound.users; i++) {
        const id = ++rows.users
        const first = r.pick(firstNames)
        const last = r.pick(lastNames)
        clock += r.between(1, 30)
        const email = `${first}.${last}.${id}@${r.pick(domains)}`.toLowerCase()
        addUser.run(id, email, `${first} ${last}`, r.pick(countries), r.pick(plans), clock, bio(r))
      }
      for (let i = 0; i < perRound.orders; i++) {
        const id = ++rows.orders
        const note = r.int(3) === 0 ? r.words(r.between(3, 15)) : null
        clock += r.int(8)
        addOrder.run(
          id,
          r.between(1, rows.users),
          r.pick(statuses),
          r.between(199, 250_000),
          r.pick(currencies),
          clock,
          items(r),
          note,
        )
      }
      for (let i = 0; i < perRound.events; i++) {
        const id = ++rows.events
        const kind = r.pick(kinds)
        clock += r.int(2)
        addEvent.run(id, r.between(1, rows.users), kind, clock, payload(r, kind))
      }
    })
    let lastLog = performance.now()
    for (;;) {
      round()
      const bytes = Number(db.pragma('page_count', { simple: true })) * pageSize
      if (performance.now() - lastLog > 5000) {
        log(`  generating: ${(bytes / 2 ** 20).toFixed(0)} of ${(targetBytes / 2 ** 20).toFixed(0)} MiB`)
        lastLog = performance.now()
      }
      if (bytes >= targetBytes) break
    }
    db.pragma('wal_checkpoint(TRUNCATE)')
    db.close()
    await writeFile(meta, `${JSON.stringify(rows)}\n`)
    await rename(temp, path)
    for (const suffix of ['-wal', '-shm']) await rm(temp + suffix, { force: true })
    return {
      path,
      bytes: (await stat(path)).size,
      rows,
      generated: true,
      seconds: (performance.now() - started) / 1000,
    }
  } finally {
    if (db.open) db.close()
  }
}

function rowCounts(db: Database.Database): GeneratedDatabase['rows'] {
  const count = (table: string) => Number(db.prepare(`SELECT max(id) FROM ${table}`).pluck().get() ?? 0)
  return { users: count('users'), orders: count('orders'), events: count('events') }
}

export interface UpdateResult {
  rows: number
  /** Per table: how many rows were updated. */
  tables: Record<string, number>
  /** Bytes of the main file after the checkpoint. */
  bytes: number
}

/**
 * Updates a text column of `fraction` of the rows of every table, picked by seeded random
 * ids, in one transaction, then checkpoints and truncates the WAL so the change is in the
 * main file (what a file-level tool such as restic sees).
 */
export function updateRows(path: string, fraction: number, seed: number): UpdateResult {
  const db = new Database(path, { fileMustExist: true })
  try {
    db.pragma('cache_size = -131072')
    const r = new Rand(seed ^ 0x5eed)
    const counts = rowCounts(db)
    const tables: Record<string, number> = {}
    const pickIds = (max: number) => {
      const ids = new Set<number>()
      const want = Math.max(1, Math.round(max * fraction))
      while (ids.size < want) ids.add(r.between(1, max))
      return [...ids]
    }
    const setBio = db.prepare('UPDATE users SET bio = ? WHERE id = ?')
    const setItems = db.prepare('UPDATE orders SET items = ? WHERE id = ?')
    const setPayload = db.prepare('UPDATE events SET payload = ? WHERE id = ?')
    db.transaction(() => {
      const users = pickIds(counts.users)
      for (const id of users) setBio.run(bio(r), id)
      const orders = pickIds(counts.orders)
      for (const id of orders) setItems.run(items(r), id)
      const events = pickIds(counts.events)
      for (const id of events) setPayload.run(payload(r, r.pick(kinds)), id)
      tables.users = users.length
      tables.orders = orders.length
      tables.events = events.length
    })()
    db.pragma('wal_checkpoint(TRUNCATE)')
    const pageSize = Number(db.pragma('page_size', { simple: true }))
    const bytes = Number(db.pragma('page_count', { simple: true })) * pageSize
    return { rows: Object.values(tables).reduce((a, b) => a + b, 0), tables, bytes }
  } finally {
    db.close()
  }
}
