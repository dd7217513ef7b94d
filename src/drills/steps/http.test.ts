import { describe, expect, it } from 'vitest'
import { findMismatch } from './http.js'

describe('findMismatch', () => {
  it('accepts a subset of an object, key by key, at any depth', () => {
    expect(findMismatch({ status: 'ok' }, { status: 'ok', version: 42 }, '$')).toBeUndefined()
    expect(findMismatch({ db: { up: true } }, { db: { up: true, ms: 3 }, x: 1 }, '$')).toBeUndefined()
  })

  it('names the first path that differs or is missing', () => {
    expect(findMismatch({ status: 'ok' }, { status: 'drill-bad-deploy' }, '$')).toBe(
      '$.status is "drill-bad-deploy", expected "ok"',
    )
    expect(findMismatch({ db: { up: true } }, { db: {} }, '$')).toBe('$.db.up is missing, expected true')
    expect(findMismatch({ db: { up: true } }, { db: 'up' }, '$')).toBe('$.db is "up", expected an object')
  })

  it('compares arrays and scalars exactly', () => {
    expect(findMismatch([1, 2], [1, 2], '$')).toBeUndefined()
    expect(findMismatch({ tags: [1, 2] }, { tags: [1, 2, 3] }, '$')).toBe('$.tags is [1,2,3], expected [1,2]')
    expect(findMismatch(200, '200', '$')).toBe('$ is "200", expected 200')
  })
})
