/** The built-in drill kinds: one file each, one line below. */
import type { DrillKind } from '../../plan/index.js'
import { corruptionUndoScenario } from './corruption-undo.js'
import { customScenario } from './custom.js'
import { fullRecoveryScenario } from './full-recovery.js'
import { kvRestoreScenario } from './kv-restore.js'
import { pitrScenario } from './pitr.js'
import { restoreTestScenario } from './restore-test.js'
import type { Scenario } from './scenario.js'

export const scenarios = {
  'restore-test': restoreTestScenario,
  pitr: pitrScenario,
  'corruption-undo': corruptionUndoScenario,
  'kv-restore': kvRestoreScenario,
  'full-recovery': fullRecoveryScenario,
  custom: customScenario,
} satisfies Record<DrillKind, Scenario>

export type { Scenario } from './scenario.js'
