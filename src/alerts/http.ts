/** A delivery that did not reach its receiver; `retryable` says whether trying again may help. */
export class DeliveryError extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
    options?: ErrorOptions,
  ) {
    super(message, options)
  }
}

const timeoutMs = 10_000

/**
 * POSTs a JSON document and resolves on a 2xx answer. Network errors, time-outs, 429 and
 * 5xx answers are retryable; any other answer is not (the payload or the key is wrong).
 */
export async function postJson(url: string, body: unknown, signal?: AbortSignal): Promise<void> {
  let response: Response
  try {
    response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal: signal ? AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]) : AbortSignal.timeout(timeoutMs),
    })
  } catch (cause) {
    throw new DeliveryError(`${redact(url)} did not answer: ${(cause as Error).message}`, true, { cause })
  }
  // The body is read so the connection can be reused, and quoted when it explains a refusal.
  const text = await response.text().catch(() => '')
  if (response.ok) return
  const retryable = response.status === 429 || response.status >= 500
  throw new DeliveryError(
    `${redact(url)} answered ${response.status}${text ? `: ${text.slice(0, 200)}` : ''}`,
    retryable,
  )
}

/** A URL for messages: webhook URLs carry their secret in the path, so only the origin is shown. */
export function redact(url: string): string {
  try {
    return new URL(url).origin
  } catch {
    return 'the notifier URL'
  }
}
