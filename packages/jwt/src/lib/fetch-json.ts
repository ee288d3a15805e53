import { ZeroTrustError } from '@zerotrust/core'

/** How key material and metadata are fetched. */
export interface FetchSettings {
  readonly fetch: typeof globalThis.fetch
  /** Milliseconds before a request is abandoned. */
  readonly timeout: number
}

// A JWKS or metadata document is a few KiB; anything this large is not one.
const maxDocumentBytes = 512 * 1024

/**
 * GETs a JSON object. Every failure (network, timeout, status, size, syntax) becomes a
 * `dependency_unavailable` error carrying a stable reason and never the upstream text.
 */
export async function fetchJsonObject(
  url: URL,
  settings: FetchSettings,
  reason: string,
): Promise<Record<string, unknown>> {
  // The timer bounds the whole exchange even when a custom fetch ignores the abort signal.
  let timer: NodeJS.Timeout | undefined
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(unavailable(reason, new Error('timed out'))), settings.timeout)
  })
  try {
    return await Promise.race([fetchOnce(url, settings, reason), deadline])
  } finally {
    clearTimeout(timer)
  }
}

async function fetchOnce(
  url: URL,
  settings: FetchSettings,
  reason: string,
): Promise<Record<string, unknown>> {
  let response: Response
  try {
    response = await settings.fetch(url, {
      headers: { accept: 'application/json' },
      redirect: 'error',
      signal: AbortSignal.timeout(settings.timeout),
    })
  } catch (cause) {
    throw unavailable(reason, cause)
  }
  if (response.status !== 200) {
    await response.body?.cancel().catch(() => {})
    throw unavailable(reason, new Error(`unexpected HTTP status ${response.status}`))
  }
  const declared = Number(response.headers.get('content-length') ?? 0)
  if (declared > maxDocumentBytes) {
    await response.body?.cancel().catch(() => {})
    throw unavailable(reason, new Error('document too large'))
  }
  let text: string
  try {
    text = await response.text()
  } catch (cause) {
    throw unavailable(reason, cause)
  }
  if (text.length > maxDocumentBytes) throw unavailable(reason, new Error('document too large'))
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (cause) {
    throw unavailable(reason, cause)
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw unavailable(reason, new Error('document is not a JSON object'))
  }
  return value as Record<string, unknown>
}

export function unavailable(reason: string, cause?: unknown, retryAfter?: number): ZeroTrustError {
  return new ZeroTrustError('dependency_unavailable', "the token issuer's keys cannot be fetched", {
    reason,
    cause,
    ...(retryAfter === undefined ? {} : { retryAfter }),
  })
}
