import { connect, databaseOf } from './connect.js'
import { captureNames, readState } from './install.js'
import { lsnToNumber } from './pgoutput.js'
import { decodeSlot } from './slot.js'

/** A transaction snapshot as pg_current_snapshot() gives it: xmin:xmax:xip,... (64-bit xids). */
export interface TxSnapshot {
  xmin: bigint
  xmax: bigint
  xip: Set<bigint>
}

export function parseSnapshot(text: string): TxSnapshot {
  const [xmin, xmax, xip] = text.split(':')
  return {
    xmin: BigInt(xmin!),
    xmax: BigInt(xmax!),
    xip: new Set((xip ?? '').split(',').filter(Boolean).map(BigInt)),
  }
}

/** Whether a committed transaction (32-bit xid, as pgoutput sends it) is visible in the snapshot. */
export function visibleIn(snapshot: TxSnapshot, xid: number): boolean {
  // Widen the xid to the 64-bit one nearest xmax: xids run modulo 2^32, and live ones lie within 2^31 of each other.
  let full = (snapshot.xmax & ~0xffffffffn) | BigInt(xid)
  if (full > snapshot.xmax + (1n << 31n)) full -= 1n << 32n
  else if (full < snapshot.xmax - (1n << 31n)) full += 1n << 32n
  return full < snapshot.xmin || (full < snapshot.xmax && !snapshot.xip.has(full))
}

/**
 * The seq of the last captured change an image contains, or undefined when the image
 * cannot be aligned and must be taken again.
 *
 * A transaction whose commit record lies after `lsn` (the insert position read after the
 * snapshot was taken) committed after the snapshot: the image lacks it. One committed
 * before may still be invisible, when the snapshot was taken between its commit record
 * and the moment it became visible. So the transactions committed between the mark and
 * `lsn` are decoded and checked one by one: the visible ones must come first, in commit
 * order; then the image holds exactly the changes up to the last of them. In the rare
 * case where an invisible one precedes a visible one, no seq describes the image.
 */
export async function alignWithCapture(
  url: string,
  resource: string,
  generation: string,
  snapshot: TxSnapshot,
  lsn: string,
): Promise<number | undefined> {
  const names = captureNames(resource, databaseOf(url))
  const client = await connect(url, resource)
  try {
    const limit = lsnToNumber(lsn)
    // Decoding reads flushed WAL only; a commit before `lsn` may still be on its way to disk.
    for (let i = 0; i < 500; i++) {
      const { rows } = await client.query<{ ok: boolean }>('SELECT pg_current_wal_flush_lsn() >= $1::pg_lsn AS ok', [
        lsn,
      ])
      if (rows[0]?.ok) break
      await new Promise((r) => setTimeout(r, 10))
    }
    // The agent may acknowledge meanwhile: the mark (not the image's copy of it) anchors the
    // numbering, and must not move while the slot is read (it moves before the slot does).
    const state = await readState(client, names)
    // Capture reinstalled, or changes after the image already acknowledged: take the image again.
    if (!state || state.generation !== generation || state.mark.lsn > limit) return undefined
    let seq = state.mark.seq
    let invisibleSeen = false
    let aligned = true
    await decodeSlot(client, { ...names, mark: state.mark, uptoLsn: lsn }, (tx) => {
      if (tx.commitLsn >= limit) return
      if (visibleIn(snapshot, tx.xid)) {
        if (invisibleSeen) aligned = false
        seq = tx.lastSeq
      } else {
        invisibleSeen = true
      }
    })
    const after = await readState(client, names)
    if (after?.mark.lsn !== state.mark.lsn) return undefined
    return aligned ? seq : undefined
  } finally {
    await client.end().catch(() => {})
  }
}
