import { describe, expect, it } from 'vitest'
import { copyFields, copyLines, copyValue } from './copy-text.js'

describe('COPY text, read back', () => {
  it('splits lines across chunks and fields at tabs, and unescapes every escape', async () => {
    const text = 'a\\tb\t\\N\t\\\\x00ff\n\\n\\r\\b\\f\\v\t\\101\\x42\\C\t\tp\xe9\n'
    const bytes = Buffer.from(text, 'utf8')
    const chunks = (async function* () {
      for (let i = 0; i < bytes.length; i += 5) yield bytes.subarray(i, i + 5)
    })()
    const rows: (string | null)[][] = []
    for await (const line of copyLines(chunks)) rows.push(copyFields(line).map(copyValue))
    expect(rows).toEqual([
      ['a\tb', null, '\\x00ff'],
      ['\n\r\b\f\v', 'ABC', '', 'pé'],
    ])
  })
})
