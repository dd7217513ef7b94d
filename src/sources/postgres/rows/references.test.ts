import { describe, expect, it } from 'vitest'
import type { RowWrite } from '../../source.js'
import { type ForeignKey, foreignKeyOrder } from './references.js'
import type { RowTable } from './tables.js'

const table = (name: string) => ({ name }) as RowTable
const [orgs, users, posts] = [table('orgs'), table('users'), table('posts')]
const fk = (child: RowTable, parent: RowTable): ForeignKey => ({
  child,
  parent,
  childColumns: ['x'],
  parentColumns: ['id'],
})

describe('the order foreign keys accept', () => {
  it('deletes referring rows first and inserts referred rows first, updates in between', () => {
    const keys = [fk(users, orgs), fk(posts, users), fk(users, users)]
    const w = (op: RowWrite['op'], t: string): RowWrite =>
      op === 'delete' ? { op, table: t, key: {} } : { op, table: t, key: {}, row: {} }
    const writes = [
      w('insert', 'posts'),
      w('delete', 'orgs'),
      w('insert', 'users'),
      w('update', 'orgs'),
      w('delete', 'posts'),
      w('insert', 'orgs'),
      w('delete', 'users'),
    ]
    expect(foreignKeyOrder(keys, writes).map((x) => `${x.op} ${x.table}`)).toEqual([
      'delete posts',
      'delete users',
      'delete orgs',
      'update orgs',
      'insert orgs',
      'insert users',
      'insert posts',
    ])
  })
})
