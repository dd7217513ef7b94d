/**
 * COPY's text format, read back: one row per line, fields separated by tabs, `\N` for
 * NULL, and backslash escapes for the bytes that would break the layout. A field decodes
 * to the value's text form, the same string capture records and a query returns.
 */

const backslash = 0x5c
const tab = 0x09
const newline = 0x0a

const simple: Record<number, number> = {
  98: 0x08, // \b
  102: 0x0c, // \f
  110: 0x0a, // \n
  114: 0x0d, // \r
  116: 0x09, // \t
  118: 0x0b, // \v
}

/** The lines of a COPY text stream, without their newline; a chunk may end inside a line. */
export async function* copyLines(data: AsyncIterable<Uint8Array>): AsyncIterable<Buffer> {
  let rest: Buffer = Buffer.alloc(0)
  for await (const chunk of data) {
    const buf =
      rest.length > 0 ? Buffer.concat([rest, chunk]) : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length)
    let start = 0
    for (let nl = buf.indexOf(newline); nl !== -1; nl = buf.indexOf(newline, start)) {
      yield buf.subarray(start, nl)
      start = nl + 1
    }
    rest = Buffer.from(buf.subarray(start))
  }
  if (rest.length > 0) yield rest
}

/** The raw (still escaped) fields of one line. */
export function copyFields(line: Buffer): Buffer[] {
  const fields: Buffer[] = []
  let start = 0
  for (let i = line.indexOf(tab); i !== -1; i = line.indexOf(tab, start)) {
    fields.push(line.subarray(start, i))
    start = i + 1
  }
  fields.push(line.subarray(start))
  return fields
}

/** One field's value: null for `\N`, else the unescaped text (octal and hex escapes give bytes, read as UTF-8). */
export function copyValue(field: Buffer): string | null {
  if (field.length === 2 && field[0] === backslash && field[1] === 0x4e) return null
  if (field.indexOf(backslash) === -1) return field.toString('utf8')
  const out = Buffer.alloc(field.length)
  let n = 0
  for (let i = 0; i < field.length; i++) {
    const b = field[i]!
    if (b !== backslash || i + 1 === field.length) {
      out[n++] = b
      continue
    }
    const c = field[++i]!
    if (c in simple) {
      out[n++] = simple[c]!
    } else if (c >= 0x30 && c <= 0x37) {
      let v = c - 0x30
      for (let k = 0; k < 2 && field[i + 1]! >= 0x30 && field[i + 1]! <= 0x37; k++) v = v * 8 + field[++i]! - 0x30
      out[n++] = v & 0xff
    } else if (c === 0x78 && isHex(field[i + 1])) {
      let v = Number.parseInt(String.fromCharCode(field[++i]!), 16)
      if (isHex(field[i + 1])) v = v * 16 + Number.parseInt(String.fromCharCode(field[++i]!), 16)
      out[n++] = v
    } else {
      out[n++] = c
    }
  }
  return out.toString('utf8', 0, n)
}

function isHex(b: number | undefined): boolean {
  return b !== undefined && ((b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x46) || (b >= 0x61 && b <= 0x66))
}
