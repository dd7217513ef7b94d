import { S3Client } from '@aws-sdk/client-s3'

export type Env = Record<string, string | undefined>

export interface S3ClientOptions {
  /** Where the AWS_* and DRKIT_S3_* variables come from; process.env by default. */
  env?: Env
  /** How long to wait for a connection, and for a silent socket, before a request fails as 'transient'. */
  connectTimeoutMs?: number
  idleTimeoutMs?: number
}

/** An S3 client configured the usual AWS way, and the endpoint it talks to, for messages. */
export interface S3Connection {
  client: S3Client
  /** The endpoint URL, or `AWS S3 (region)` when none is set. */
  endpoint: string
  pathStyle: boolean
}

/**
 * Builds the client from the environment: AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL, AWS_REGION or
 * AWS_DEFAULT_REGION (else the profile's region, else us-east-1), credentials from
 * AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN or the SDK's default chain
 * (profiles, SSO, instance roles). Path-style addressing with DRKIT_S3_FORCE_PATH_STYLE=1, or
 * when the endpoint is an IP address, localhost or has a port (MinIO, Ceph, s3rver).
 */
export async function connectS3(opts: S3ClientOptions = {}): Promise<S3Connection> {
  const env = opts.env ?? process.env
  // The SDK warns on every process under Node < 22 about its releases after January 2027;
  // drkit pins the SDK range it is tested with, so the warning says nothing to a drkit user.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true'
  const endpoint = env.AWS_ENDPOINT_URL_S3 || env.AWS_ENDPOINT_URL || undefined
  const pathStyle = forcePathStyle(env.DRKIT_S3_FORCE_PATH_STYLE, endpoint)
  const { AWS_ACCESS_KEY_ID: accessKeyId, AWS_SECRET_ACCESS_KEY: secretAccessKey } = env
  const make = (region: string | undefined) =>
    new S3Client({
      region,
      ...(endpoint && { endpoint }),
      forcePathStyle: pathStyle,
      followRegionRedirects: true,
      ...(accessKeyId &&
        secretAccessKey && {
          credentials: { accessKeyId, secretAccessKey, sessionToken: env.AWS_SESSION_TOKEN || undefined },
        }),
      // Retries belong to the retrying wrapper (one policy for every backend), so the SDK makes one attempt.
      maxAttempts: 1,
      // Stores other than AWS (s3rver, older MinIO and Ceph) reject or mangle the SDK's default CRC checksums;
      // puts send Content-MD5 instead, which every S3-compatible store checks.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      requestHandler: {
        connectionTimeout: opts.connectTimeoutMs ?? 10_000,
        socketTimeout: opts.idleTimeoutMs ?? 60_000,
      },
    })
  let client = make(env.AWS_REGION || env.AWS_DEFAULT_REGION || undefined)
  let region: string
  try {
    region = await client.config.region()
  } catch {
    // No region anywhere: us-east-1 works for S3-compatible stores, and AWS redirects to the bucket's region.
    client.destroy()
    region = 'us-east-1'
    client = make(region)
  }
  return { client, endpoint: endpoint ?? `AWS S3 (${region})`, pathStyle }
}

function forcePathStyle(setting: string | undefined, endpoint: string | undefined): boolean {
  if (setting && /^(1|true|yes)$/i.test(setting)) return true
  if (setting && /^(0|false|no)$/i.test(setting)) return false
  if (!endpoint) return false
  try {
    const url = new URL(endpoint)
    // A bucket cannot be a subdomain of an IP address or localhost, and a port usually means a self-hosted store.
    return url.port !== '' || url.hostname === 'localhost' || /^[\d.]+$|^\[/.test(url.hostname)
  } catch {
    return false
  }
}
