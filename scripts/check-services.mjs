// The tests run against real servers on this machine; say exactly what is missing and how to get it.
import { spawnSync } from 'node:child_process'
import { connect } from 'node:net'

const services = [
  {
    name: 'Redis',
    port: 6379,
    ping: 'PING\r\n',
    expect: '+PONG',
    fix: "apt-get install redis-server && redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save ''",
  },
]

function probe({ port, ping, expect }) {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port })
    const done = (ok) => {
      socket.destroy()
      resolve(ok)
    }
    socket.setTimeout(2000, () => done(false))
    socket.on('error', () => done(false))
    socket.on('connect', () => socket.write(ping))
    socket.on('data', (data) => done(data.toString().startsWith(expect)))
  })
}

let missing = 0
for (const service of services) {
  if (await probe(service)) continue
  missing++
  console.error(
    `missing: ${service.name} on 127.0.0.1:${service.port}, which the tests use.\n  to get it: ${service.fix}`,
  )
}
const commands = [
  {
    command: 'sqlite3',
    args: ['-version'],
    why: 'the round-trip tests compare dumps with it',
    fix: 'apt-get install sqlite3',
  },
  {
    command: 'psql',
    args: ['--version'],
    why: 'the PostgreSQL tests load SQL files with it',
    fix: 'apt-get install postgresql-client',
  },
  {
    command: 'pg_dump',
    args: ['--version'],
    why: 'PostgreSQL snapshots take the schema with it',
    fix: 'apt-get install postgresql-client',
  },
  {
    command: 'chromium',
    args: ['--version'],
    why: 'the report test renders HTML in it',
    fix: 'apt-get install chromium',
  },
]
for (const { command, args, why, fix } of commands) {
  if (spawnSync(command, args).status === 0) continue
  missing++
  console.error(`missing: the ${command} command (${why}).\n  to get it: ${fix}`)
}

const walLevel = spawnSync('psql', ['-X', '-h', '127.0.0.1', '-U', 'postgres', '-d', 'test', '-Atc', 'SHOW wal_level'])
const level = walLevel.status === 0 ? walLevel.stdout.toString().trim() : undefined
if (level !== 'logical') {
  missing++
  console.error(
    level === undefined
      ? 'missing: PostgreSQL on 127.0.0.1:5432 (user postgres, trust auth, database test), which the tests use.\n' +
          '  to get it: apt-get install postgresql && pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start'
      : `missing: PostgreSQL with wal_level = logical (it is ${level}), which change capture needs.\n` +
          '  to get it: psql -h 127.0.0.1 -U postgres -c "ALTER SYSTEM SET wal_level = logical", then restart the server ' +
          '(scripts/setup-services.sh does both when run as root)',
  )
}
process.exit(missing > 0 ? 1 : 0)
