import { ZeroTrustError } from '@zerotrust/core'
import { fetchJson, isBoundedFetchError } from '@zerotrust/core/layer'

/** How key material and metadata are fetched. */
export interface FetchSettings {
  readonly fetch: typeof globalThis.fetch
  /** Milliseconds before a request is abandoned, body included. */
  readonly timeout: number
}

/**
 * What is fetched, which names the reasons of its failures: `<source>_unavailable`, `<source>_timeout`,
 * `<source>_too_large`.
 */
export type FetchSource = 'jwks' | 'discovery'

// A JWKS or metadata document is a few KiB; anything this large is not one.
const maxDocumentBytes = 512 * 1024

/**
 * GETs a JSON object through core's bounded fetch: at most {@link maxDocumentBytes} are read, then the
 * body is cancelled. Every failure (network, timeout, status, syntax) becomes a `dependency_unavailable`
 * error with the reason `<source>_unavailable`, `<source>_timeout` when `timeout` passed, or
 * `<source>_too_large` for a body over the limit, and never carries the upstream text. The fetch's error
 * stays its `cause`, from which a decision event reads its `cause` category (`dns`, `refused`, `tls`…).
 */
export async function fetchJsonObject(
  url: URL,
  settings: FetchSettings,
  source: FetchSource,
): Promise<Record<string, unknown>> {
  try {
    return await fetchJson(url, {
      fetch: settings.fetch,
      timeout: settings.timeout,
      maxBytes: maxDocumentBytes,
      headers: { accept: 'application/json' },
      redirect: 'error',
    })
  } catch (error) {
    const code = isBoundedFetchError(error) ? error.code : undefined
    const reason =
      code === 'ERR_FETCH_TOO_LARGE'
        ? `${source}_too_large`
        : code === 'ERR_FETCH_TIMEOUT'
          ? `${source}_timeout`
          : `${source}_unavailable`
    throw unavailable(reason, error)
  }
}

export function unavailable(reason: string, cause?: unknown, retryAfter?: number): ZeroTrustError {
  return new ZeroTrustError('dependency_unavailable', "the token issuer's keys cannot be fetched", {
    reason,
    cause,
    ...(retryAfter === undefined ? {} : { retryAfter }),
  })
}
