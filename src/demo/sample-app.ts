import Database from 'better-sqlite3'

/**
 * The demo's application database: tenants, their users and orders, in WAL mode as a
 * real application would run it.
 */
export function createSampleApp(path: string, opts: { tenants?: number; usersPerTenant?: number } = {}): void {
  const tenants = opts.tenants ?? 20
  const usersPerTenant = opts.usersPerTenant ?? 50
  const db = new Database(path)
  try {
    db.pragma('journal_mode = WAL')
    db.exec(`
      CREATE TABLE tenants (id TEXT PRIMARY KEY, name TEXT NOT NULL, plan TEXT NOT NULL);
      CREATE TABLE users (
        id INTEGER PRIMARY KEY, tenant_id TEXT NOT NULL REFERENCES tenants(id),
        email TEXT NOT NULL UNIQUE, created_at TEXT NOT NULL);
      CREATE TABLE orders (
        id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL REFERENCES users(id),
        amount_cents INTEGER NOT NULL, note TEXT);
      CREATE INDEX orders_by_user ON orders(user_id);
    `)
    const addTenant = db.prepare('INSERT INTO tenants VALUES (?, ?, ?)')
    const addUser = db.prepare('INSERT INTO users (tenant_id, email, created_at) VALUES (?, ?, ?)')
    const addOrder = db.prepare('INSERT INTO orders (user_id, amount_cents, note) VALUES (?, ?, ?)')
    db.transaction(() => {
      for (let t = 1; t <= tenants; t++) {
        addTenant.run(`t${t}`, `Tenant ${t}`, t % 3 === 0 ? 'enterprise' : 'team')
        for (let u = 1; u <= usersPerTenant; u++) {
          const user = addUser.run(
            `t${t}`,
            `user${u}@tenant${t}.example`,
            new Date(Date.UTC(2026, 0, 1, 0, u)).toISOString(),
          )
          for (let o = 1; o <= 3; o++)
            addOrder.run(user.lastInsertRowid, (t * u * o * 37) % 100_000, `order ${o} of user ${u}`)
        }
      }
    })()
  } finally {
    db.close()
  }
}

/** The damage the demo does: a dropped table and corrupted rows of one tenant. */
export function damageSampleApp(path: string): { droppedTable: string; corruptedRows: number } {
  const db = new Database(path)
  try {
    db.exec('DROP TABLE orders')
    const { changes } = db.prepare("UPDATE users SET email = 'CORRUPTED-' || id WHERE tenant_id = 't1'").run()
    return { droppedTable: 'orders', corruptedRows: changes }
  } finally {
    db.close()
  }
}

/** New orders, as the application would keep taking them. */
export function addOrders(path: string, count: number): number {
  const db = new Database(path)
  try {
    const add = db.prepare('INSERT INTO orders (user_id, amount_cents, note) VALUES (?, ?, ?)')
    db.transaction(() => {
      for (let i = 1; i <= count; i++) add.run(1 + ((i * 7) % 1000), i * 113, `late order ${i}`)
    })()
    return count
  } finally {
    db.close()
  }
}
