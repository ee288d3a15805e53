import { type Challenge, errorTable, toZeroTrustError } from './errors.js'
import { exposeHeaders } from './expose-headers.js'
import { descriptionText, isFieldValue, isToken, quote } from './lib/header-params.js'

/** An RFC 9457 problem details object, with the zerotrust code as an extension member. */
export interface ProblemDetails {
  readonly type: string
  readonly title: string
  readonly status: number
  readonly detail: string
  readonly code: string
  readonly reason?: string
  readonly scope?: string
}

/** What an adapter sends for an error: status, headers and a serialized body. */
export interface RenderedError {
  readonly status: number
  readonly headers: Readonly<Record<string, string>>
  /**
   * The serialized problem, UTF-8 JSON; `headers` names its `content-type` (`application/problem+json`,
   * no `charset`: RFC 8259 §11 defines none) and its `content-length` in bytes. An adapter sends these
   * bytes and headers as they are, so every framework answers an error identically.
   */
  readonly body: string
  readonly problem: ProblemDetails
}

/** Options of {@link renderError}. */
export interface RenderErrorOptions {
  /** The `realm` to put in challenges that do not name one. */
  readonly realm?: string | undefined
  /**
   * The `Access-Control-Expose-Headers` value already on the response (a CORS layer's list): an error
   * that adds headers (`DPoP-Nonce`) lists them after it rather than replacing it.
   */
  readonly exposed?: unknown
}

const defaultChallenges: readonly Challenge[] = [{ scheme: 'Bearer' }]
const defaultRetryAfter = 5
// A day: no client should be told to wait longer for a failure of ours, and the header stays short.
const maxRetryAfter = 86_400

/**
 * Renders any thrown value as an HTTP response: RFC 9457 `application/problem+json` and, for
 * authentication errors, an RFC 6750 / RFC 9449 `WWW-Authenticate` challenge.
 *
 * Unknown errors render as a 500 whose body says nothing of the original message.
 *
 * @example
 * const { status, headers, body } = renderError(err, { realm: 'orders' })
 * res.writeHead(status, headers).end(body)
 * @see https://www.rfc-editor.org/rfc/rfc9457
 * @see https://www.rfc-editor.org/rfc/rfc6750#section-3
 */
export function renderError(error: unknown, options: RenderErrorOptions = {}): RenderedError {
  const err = toZeroTrustError(error)
  const entry = errorTable[err.code]
  const scope = err.scope?.length ? err.scope.join(' ') : undefined
  const detail =
    entry.status >= 500 && err.code === 'internal_error' ? 'an internal error occurred' : err.message

  const headers: Record<string, string> = {
    'content-type': 'application/problem+json',
    'cache-control': 'no-store',
  }
  if (entry.challenge) {
    headers['www-authenticate'] = (err.challenges ?? defaultChallenges)
      .map((challenge) => formatChallenge(challenge, entry.oauthError, detail, scope, options.realm))
      .join(', ')
  }
  if (err.code === 'dependency_unavailable' || err.retryAfter !== undefined) {
    headers['retry-after'] = String(retryAfterSeconds(err.retryAfter))
  }
  if (err.headers) {
    // A header that could not be sent as it is (a name that is no token, a value with CR or LF) is left
    // out: it would split the response or make the framework throw, turning the answer into a 500.
    const added: string[] = []
    for (const [name, value] of Object.entries(err.headers)) {
      if (!isToken(name) || !isFieldValue(value)) continue
      headers[name.toLowerCase()] = value
      added.push(name)
    }
    // A browser client reads `DPoP-Nonce` across origins only when it is exposed, after whatever a CORS
    // layer already listed.
    headers['access-control-expose-headers'] = exposeHeaders(options.exposed, ['WWW-Authenticate', ...added])
  }

  const problem: ProblemDetails = {
    type: `urn:zerotrust:error:${err.code}`,
    title: entry.title,
    status: entry.status,
    detail,
    code: err.code,
    ...(err.reason === undefined || err.code === 'internal_error' ? {} : { reason: err.reason }),
    ...(scope === undefined ? {} : { scope }),
  }
  const body = JSON.stringify(problem)
  headers['content-length'] = String(Buffer.byteLength(body))
  return { status: entry.status, headers, body, problem }
}

function formatChallenge(
  challenge: Challenge,
  oauthError: string | undefined,
  description: string,
  scope: string | undefined,
  realm: string | undefined,
): string {
  const params: string[] = []
  const own = challenge.params ?? {}
  // RFC 9110 §11.3: the scheme and parameter names are tokens; anything else is dropped, never sent.
  const scheme = isToken(challenge.scheme) ? challenge.scheme : 'Bearer'
  const challengeRealm = own.realm ?? realm
  if (challengeRealm !== undefined) params.push(`realm=${quote(challengeRealm)}`)
  const withError = challenge.error !== false
  // RFC 6750 §3.1: without credentials the challenge carries no error attribute at all.
  if (oauthError !== undefined && withError) {
    params.push(`error=${quote(oauthError)}`, `error_description="${descriptionText(description)}"`)
  }
  if (scope !== undefined && withError) params.push(`scope=${quote(scope)}`)
  for (const [name, value] of Object.entries(own)) {
    if (name === 'realm' || name === 'error' || name === 'error_description' || name === 'scope') continue
    if (!isToken(name) || typeof value !== 'string') continue
    params.push(`${name}=${quote(value)}`)
  }
  return params.length === 0 ? scheme : `${scheme} ${params.join(', ')}`
}

// RFC 9110 §10.2.3: delay-seconds, a non-negative integer; a value that is none becomes the default.
function retryAfterSeconds(value: number | undefined): number {
  if (value === undefined || !Number.isFinite(value) || value < 0) return defaultRetryAfter
  return Math.min(Math.ceil(value), maxRetryAfter)
}
