import { BackendError, type BackendErrorKind } from './backend.js'

/** What an error message needs to name: the repository, the bucket and where it lives. */
export interface S3Place {
  location: string
  bucket: string
  endpoint: string
  pathStyle: boolean
}

interface SdkError {
  name?: string
  code?: string
  Code?: string
  message?: string
  $metadata?: { httpStatusCode?: number }
}

const credentialsHint =
  'Check the credentials drkit uses: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (with AWS_SESSION_TOKEN for ' +
  'temporary ones), or AWS_PROFILE; they need to get, put, list and delete objects in the bucket.'

const deniedCodes = [
  'AccessDenied',
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'ExpiredToken',
  'InvalidToken',
  'TokenRefreshRequired',
  'AllAccessDisabled',
  'AccountProblem',
]
// Throttling, server-side trouble, and conflicts between concurrent conditional writes: try again later.
const transientCodes = [
  'SlowDown',
  'Throttling',
  'ThrottlingException',
  'RequestLimitExceeded',
  'TooManyRequests',
  'RequestTimeout',
  'InternalError',
  'ServiceUnavailable',
  'ConditionalRequestConflict',
  'OperationAborted',
  'BadDigest',
  'IncompleteBody',
]
const transientStatuses = [408, 429, 500, 502, 503, 504]
// Connections that failed or broke: the endpoint may be back in a moment.
const networkCodes = [
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EAI_AGAIN',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'ECONNABORTED',
]

export function errorCode(err: unknown): string {
  const e = (err ?? {}) as SdkError
  return e.Code ?? e.name ?? ''
}

export function httpStatus(err: unknown): number | undefined {
  return ((err ?? {}) as SdkError).$metadata?.httpStatusCode
}

/**
 * Maps an SDK or network error to a BackendError of the right kind with a message that says
 * what failed in the user's words. `what` is the action: "cannot read config".
 */
export function toBackendError(err: unknown, what: string, place: S3Place): BackendError {
  if (err instanceof BackendError) return err
  const e = (err ?? {}) as SdkError
  const code = errorCode(err)
  const status = httpStatus(err)
  const detail = `${code && code !== 'Error' && code !== 'Unknown' ? `${code}: ` : ''}${e.message ?? String(err)}`
  const make = (kind: BackendErrorKind, message: string, hint?: string) =>
    new BackendError(kind, `${what} in ${place.location}: ${message}`, hint, { cause: err })

  if (code === 'NoSuchBucket') {
    return make(
      'fatal',
      `the bucket "${place.bucket}" does not exist at ${place.endpoint}`,
      `Create the bucket first (for example \`aws s3 mb s3://${place.bucket}\`, \`mc mb ALIAS/${place.bucket}\` ` +
        "or the provider's console); `drkit init` creates the repository inside it, not the bucket.",
    )
  }
  if (code === 'CredentialsProviderError') {
    return make(
      'permission',
      'no S3 credentials were found',
      'Set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (with AWS_SESSION_TOKEN for temporary ones), or AWS_PROFILE.',
    )
  }
  if (deniedCodes.includes(code) || status === 403) {
    return make('permission', `access denied (${detail})`, credentialsHint)
  }
  if (code === 'RequestTimeTooSkewed') {
    return make('fatal', detail, "This machine's clock is off: S3 refuses requests more than 15 minutes off. Fix it.")
  }
  if (code === 'NoSuchKey' || code === 'NotFound') return make('not-found', 'the object does not exist')
  if (transientCodes.includes(code) || (status !== undefined && transientStatuses.includes(status))) {
    return make('transient', detail)
  }
  const netCode = e.code ?? ''
  if (networkCodes.includes(netCode) || code === 'TimeoutError') {
    return make(
      'transient',
      `cannot reach the S3 endpoint ${place.endpoint} (${e.message ?? netCode})`,
      'Check AWS_ENDPOINT_URL (or AWS_REGION for AWS S3), and that the server is running and reachable from here.',
    )
  }
  if (netCode === 'ENOTFOUND') {
    const vhost = place.pathStyle
      ? ''
      : ' With virtual-hosted addressing the bucket is part of the host name: ' +
        'set DRKIT_S3_FORCE_PATH_STYLE=1 if the store does not serve bucket subdomains.'
    return make(
      'fatal',
      `cannot resolve the host of the S3 endpoint ${place.endpoint} (${e.message})`,
      `Check AWS_ENDPOINT_URL.${vhost}`,
    )
  }
  return make('fatal', detail)
}
