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
if (spawnSync('sqlite3', ['-version']).status !== 0) {
  missing++
  console.error(
    'missing: the sqlite3 command, which the round-trip tests compare dumps with.\n  to get it: apt-get install sqlite3',
  )
}
process.exit(missing > 0 ? 1 : 0)
