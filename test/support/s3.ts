/**
 * An S3-compatible server for tests: s3rver (npm) as a child process on a free 127.0.0.1 port,
 * its data in a temporary folder, with one bucket. A child, because s3rver encrypts list
 * continuation tokens with single DES, which OpenSSL 3 keeps in its legacy provider: only the
 * server runs with `--openssl-legacy-provider`, never drkit.
 *
 * `startS3Proxy` puts a proxy in front of it that counts requests, fails a share of them the
 * ways a network and a busy store do, and can act as a store that honours `If-None-Match: *`
 * (s3rver ignores it).
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

export interface S3Server {
  endpoint: string
  bucket: string
  /** The variables drkit reads to reach it (merge over process.env for the CLI). */
  env: Record<string, string>
  stop(): Promise<void>
}

const s3rverBin = fileURLToPath(new URL('../../node_modules/s3rver/bin/s3rver.js', import.meta.url))

/** The variables that point drkit at endpoint; empty ones hide a developer's own AWS settings. */
export function s3Env(endpoint: string): Record<string, string> {
  return {
    AWS_ENDPOINT_URL: endpoint,
    AWS_ENDPOINT_URL_S3: '',
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'S3RVER',
    AWS_SECRET_ACCESS_KEY: 'S3RVER',
    AWS_SESSION_TOKEN: '',
    AWS_PROFILE: '',
    DRKIT_S3_FORCE_PATH_STYLE: '1',
  }
}

export async function startS3Server(opts: { bucket?: string } = {}): Promise<S3Server> {
  const bucket = opts.bucket ?? 'drkit-test'
  const dir = await mkdtemp(join(tmpdir(), 'drkit-s3rver-'))
  const args = ['--openssl-legacy-provider', s3rverBin, '-d', dir, '-a', '127.0.0.1', '-p', '0', '--silent']
  const child = spawn(process.execPath, [...args, '--no-vhost-buckets', '--configure-bucket', bucket], {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => fail('did not start within 20 s'), 20_000)
    function fail(why: string) {
      clearTimeout(timer)
      child.kill()
      reject(new Error(`s3rver ${why} (is it installed? run \`npm install\`):\n${output}`))
    }
    const onData = (data: Buffer) => {
      output += data
      const port = /listening on [\d.]+:(\d+)/.exec(output)?.[1]
      if (port) {
        clearTimeout(timer)
        resolve(Number(port))
      }
    }
    child.stdout.on('data', onData)
    child.stderr.on('data', onData)
    child.on('error', (err) => fail(`could not be started: ${err.message}`))
    child.on('exit', (code) => fail(`exited with ${code}`))
  })
  const endpoint = `http://127.0.0.1:${port}`
  return {
    endpoint,
    bucket,
    env: s3Env(endpoint),
    async stop() {
      await stopChild(child)
      await rm(dir, { recursive: true, force: true })
    },
  }
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
  return new Promise((resolve) => {
    child.once('exit', () => resolve())
    child.kill('SIGTERM')
  })
}

export interface ProxiedRequest {
  /** GET, PUT, HEAD, DELETE, LIST or POST. */
  op: string
  /** The object key, bucket excluded. */
  key: string
}

/** How the proxy fails a request: a 503 SlowDown, a dropped connection before or after the store
 *  acted (the put landed, the answer is lost), or silence until the client gives up. */
export type ProxyFault = 'slow-down' | 'drop' | 'lost-answer' | 'stall'

export interface S3Proxy {
  endpoint: string
  env: Record<string, string>
  /** Requests received, by operation: GET, PUT, HEAD, DELETE, LIST, POST. */
  readonly counts: Record<string, number>
  readonly faults: Record<ProxyFault, number>
  /**
   * From now on a random share `ratio` of the requests that `only` accepts (all by default) fail,
   * each with one of `kinds` (all by default); 0 stops it.
   */
  failRate(ratio: number, opts?: { kinds?: ProxyFault[]; only?: (req: ProxiedRequest) => boolean }): void
  stop(): Promise<void>
}

const slowDown =
  '<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>'
const preconditionFailed =
  '<?xml version="1.0" encoding="UTF-8"?><Error><Code>PreconditionFailed</Code>' +
  '<Message>At least one of the pre-conditions you specified did not hold</Message></Error>'

/**
 * A proxy in front of `upstream`. With `conditionalWrites`, a PUT (or a multipart completion)
 * carrying `If-None-Match: *` for a key that exists, or is being written, gets 412, as AWS, R2
 * and MinIO answer; the proxy knows the keys written through it (start it on an empty prefix).
 */
export async function startS3Proxy(upstream: string, opts: { conditionalWrites?: boolean } = {}): Promise<S3Proxy> {
  const target = new URL(upstream)
  const counts: Record<string, number> = {}
  const faults: Record<ProxyFault, number> = { 'slow-down': 0, drop: 0, 'lost-answer': 0, stall: 0 }
  const allKinds: ProxyFault[] = ['slow-down', 'drop', 'lost-answer', 'stall']
  let rate: { ratio: number; kinds: ProxyFault[]; only?: (req: ProxiedRequest) => boolean } = {
    ratio: 0,
    kinds: allKinds,
  }
  const existing = new Set<string>()
  const writing = new Set<string>()

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://proxy')
    const path = url.pathname
    const op = req.method === 'GET' && url.searchParams.has('list-type') ? 'LIST' : (req.method ?? '?')
    counts[op] = (counts[op] ?? 0) + 1

    const key = decodeURIComponent(path.split('/').slice(2).join('/'))
    const eligible = rate.ratio > 0 && (rate.only?.({ op, key }) ?? true)
    const fault =
      eligible && Math.random() < rate.ratio ? rate.kinds[Math.floor(Math.random() * rate.kinds.length)] : undefined
    if (fault) faults[fault]++
    if (fault === 'drop') return req.socket.destroy()
    if (fault === 'stall') return req.resume()
    if (fault === 'slow-down') {
      req.resume()
      return res.writeHead(503, { 'content-type': 'application/xml' }).end(slowDown)
    }

    const isPartOrStart = url.searchParams.has('partNumber') || url.searchParams.has('uploads')
    const conditional = opts.conditionalWrites && req.headers['if-none-match'] === '*' && !isPartOrStart
    if (conditional) {
      if (existing.has(path) || writing.has(path)) {
        req.resume()
        return res.writeHead(412, { 'content-type': 'application/xml' }).end(preconditionFailed)
      }
      writing.add(path)
    }
    const forward = http.request(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        const ok = (answer.statusCode ?? 500) < 300
        const isWrite =
          (req.method === 'PUT' || (req.method === 'POST' && url.searchParams.has('uploadId'))) && !isPartOrStart
        if (ok && isWrite) existing.add(path)
        if (ok && req.method === 'DELETE') existing.delete(path)
        writing.delete(path)
        if (fault === 'lost-answer') {
          answer.resume()
          return req.socket.destroy()
        }
        res.writeHead(answer.statusCode ?? 500, answer.headers)
        answer.pipe(res)
      },
    )
    forward.on('error', () => {
      writing.delete(path)
      req.socket.destroy()
    })
    req.pipe(forward)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return {
    endpoint,
    env: s3Env(endpoint),
    counts,
    faults,
    failRate(ratio, opts = {}) {
      rate = { ratio, kinds: opts.kinds ?? allKinds, only: opts.only }
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}
