import { describe, expect, it } from 'vitest'
import { captureRequirementError } from './install.js'

// The test server runs with wal_level = logical and must not be reconfigured: the check's
// decision is tested here on the values `SHOW wal_level` and pg_roles would give.
describe('what capture needs from the server', () => {
  it('names the setting to change when wal_level is not logical, and that snapshots still work', () => {
    const err = captureRequirementError('main', { walLevel: 'replica', replication: true, role: 'app' })
    expect(err?.message).toBe('main: change capture needs wal_level = logical, and the server has wal_level = replica')
    expect(err?.hint).toMatch(/Set wal_level = logical in postgresql.conf .* restart PostgreSQL/)
    expect(err?.hint).toMatch(/snapshot backups \(`drkit backup`\) work without it/)
  })

  it('names the role and the grant when the role may not replicate', () => {
    const err = captureRequirementError('main', { walLevel: 'logical', replication: false, role: 'app' })
    expect(err?.message).toBe('main: the role app has no REPLICATION right, which change capture needs')
    expect(err?.hint).toMatch(/ALTER ROLE app REPLICATION/)
  })

  it('has nothing to say about a server that can capture', () => {
    expect(captureRequirementError('main', { walLevel: 'logical', replication: true, role: 'app' })).toBeUndefined()
  })
})
