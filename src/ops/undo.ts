import type { Boundary, Row } from '../model.js'
import type { RowWrite } from '../sources/index.js'
import { planUndo, type UndoConflict, type UndoPlan } from '../timeline/index.js'
import { bookmark } from './bookmark.js'
import type { OpsContext } from './context.js'
import { type DiffRequest, openRowSource, readWindow } from './diff.js'

export interface UndoRequest extends DiffRequest {
  /** Decide and report, write nothing (and set no bookmark). */
  dryRun?: boolean
  /** Overwrite conflicts too: rows changed again after the window. */
  force?: boolean
}

export interface UndoResult {
  resource: string
  generation: string
  from: Boundary
  to: Boundary
  dryRun: boolean
  force: boolean
  /** The bookmark set just before writing: restoring it gives the state before the undo. */
  bookmark?: string
  /** The writes made (or, with dryRun, to be made), and how many of each. */
  writes: RowWrite[]
  restored: Record<RowWrite['op'], number>
  /** Rows changed again after the window: left alone, unless `force`. */
  conflicts: UndoConflict[]
  /** Rows already in their state at the window's start. */
  unchanged: number
  /** As in DiffResult. */
  unfiltered: string[]
  dropped: string[]
}

/**
 * Puts every row changed between two moments back to its state at the first, in the live
 * resource, in one transaction, keeping rows changed again since (conflicts). Reads the
 * window and nets it, sets a bookmark, then reads the live rows and writes inside one
 * write transaction, deciding in between with the pure planUndo. The write is an ordinary
 * application write: the resource's triggers fire and capture records it, so an undo can
 * itself be undone (from its bookmark to a moment after it).
 */
export async function undo(ctx: OpsContext, req: UndoRequest): Promise<UndoResult> {
  const source = await openRowSource(ctx, req.resource, 'undo')
  const rows = source.rows!
  try {
    const window = await readWindow(ctx, rows, req)
    const keys = window.rows.map(({ table, key }) => ({ table, key }))
    const decide = (current: (Row | null)[]) => planUndo(window.rows, current, { force: req.force })
    let plan: UndoPlan = { writes: [], conflicts: [], unchanged: 0 }
    let mark: string | undefined
    if (req.dryRun) {
      plan = decide(await rows.read(keys))
    } else if (keys.length > 0) {
      mark = (await bookmark(ctx, req.resource, bookmarkName(new Date()))).name
      await rows.write(keys, (current) => {
        plan = decide(current)
        return plan.writes
      })
    }
    const restored = { insert: 0, update: 0, delete: 0 }
    for (const w of plan.writes) restored[w.op]++
    return {
      resource: req.resource,
      generation: window.generation,
      from: window.from,
      to: window.to,
      dryRun: req.dryRun === true,
      force: req.force === true,
      bookmark: mark,
      writes: plan.writes,
      restored,
      conflicts: plan.conflicts,
      unchanged: plan.unchanged,
      unfiltered: window.unfiltered,
      dropped: window.dropped,
    }
  } finally {
    await source.close()
  }
}

/** `undo-20260227T100000.123Z`: a bookmark name sorts by time and has only the characters names allow. */
function bookmarkName(now: Date): string {
  return `undo-${now.toISOString().replace(/[-:]/g, '')}`
}
