import { createServer, type IncomingMessage } from 'node:http'
import type { AddressInfo } from 'node:net'
import { onTestFinished } from 'vitest'

export interface Received {
  path: string
  headers: IncomingMessage['headers']
  body: unknown
}

export interface Receiver {
  url: string
  received: Received[]
  /** Resolves when at least n requests have been answered with 2xx. */
  waitFor(n: number): Promise<Received[]>
  close(): Promise<void>
}

/**
 * A real HTTP receiver on 127.0.0.1 (an ephemeral port) that records every POSTed JSON body.
 * `failFirst` answers that many requests with `failStatus` (503) before accepting; `status`
 * is the answer after that (200). Closed when the test finishes.
 */
export async function startReceiver(opts: { failFirst?: number; failStatus?: number; status?: number } = {}) {
  const received: Received[] = []
  const accepted: Received[] = []
  const waiters: { n: number; resolve: (r: Received[]) => void }[] = []
  let failures = opts.failFirst ?? 0
  const server = createServer((req, res) => {
    let text = ''
    req.on('data', (d) => {
      text += d
    })
    req.on('end', () => {
      const entry = { path: req.url ?? '/', headers: req.headers, body: JSON.parse(text || 'null') }
      received.push(entry)
      const status = failures > 0 ? (opts.failStatus ?? 503) : (opts.status ?? 200)
      if (failures > 0) failures--
      res.writeHead(status, { 'content-type': 'text/plain' }).end(status < 300 ? 'ok' : 'not now')
      if (status < 300) accepted.push(entry)
      for (const w of waiters.filter((w) => accepted.length >= w.n)) {
        waiters.splice(waiters.indexOf(w), 1)
        w.resolve(accepted.slice())
      }
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections()
      server.close(() => resolve())
    })
  onTestFinished(close)
  const receiver: Receiver = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    received,
    waitFor: (n) =>
      accepted.length >= n ? Promise.resolve(accepted.slice()) : new Promise((resolve) => waiters.push({ n, resolve })),
    close,
  }
  return receiver
}
