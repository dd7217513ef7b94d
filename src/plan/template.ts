import { defaultRepository } from './schema.js'

/** The commented `drkit.yaml` that `drkit init` writes: one SQLite resource, and the other options as comments. */
export function formatInitialPlan(): string {
  return `# drkit.yaml: what to protect, how fast it must come back, and how drkit proves it can.
# Any value may use \${VAR} or \${VAR:-default} from the environment; write $\${ for a literal \${.
# Durations are written 500ms, 5s, 15m, 24h, 7d, 2w, or combined such as 1h30m.

# Where snapshots and captured changes are kept: a folder (relative to this file) or
# s3://bucket/prefix (endpoint and keys from the usual AWS_* variables).
repository: ${defaultRepository}

resources:
  app-db:                     # any name: letters, digits, ".", "_" and "-"
    type: sqlite
    path: ./data/app.db       # relative to this file
    objectives:
      rpo: 5s                 # recovery point objective: the most recent data a recovery may lose
      rto: 15m                # recovery time objective: how long a recovery may take
    capture:
      interval: 1s            # capture changes continuously, shipped at least this often (point-in-time restore)
    snapshots:
      schedule: "30 0 * * *"  # cron (minute hour day-of-month month day-of-week): every night at 00:30
    retention:                # a snapshot kept by any rule stays
      last: 7                 # the 7 most recent
      daily: 30               # the last one of each of the 30 most recent days
      monthly: 12             # the last one of each of the 12 most recent months; hourly, weekly, yearly alike
      # within: 2d            # every snapshot younger than this
      pitr: 7d                # keep captured changes this long: how far back point-in-time restore reaches

  # main:
  #   type: postgres
  #   url: \${DATABASE_URL}
  #   objectives: { rpo: 1m, rto: 30m }

  # cache:
  #   type: redis
  #   url: redis://127.0.0.1:6379/0
  #   objectives: { rpo: 24h, rto: 5m }

# Who hears about failed backups, capture gaps, RPO breaches, failed verifications and failed or overdue drills.
# alerts:
#   - type: webhook           # POSTs { event, message, timestamp, source }; also slack (url) and pagerduty (routingKey)
#     url: \${BACKUP_ALERT_WEBHOOK_URL}

# Recovery scenarios run against a scratch copy, measuring the real RTO and RPO.
# drills:
#   - name: app-db-pitr
#     resource: app-db
#     kind: pitr              # restore-test, pitr, corruption-undo, kv-restore, full-recovery or custom
#     every: quarterly        # daily, weekly, monthly, quarterly, yearly or a duration such as 12h

# Who to call during a recovery; the runbook lists them.
# contacts:
#   - { role: On-call engineer, contact: "#oncall" }
`
}
