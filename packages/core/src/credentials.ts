import { type Challenge, ZeroTrustError } from './errors.js'
import { hasQueryParameter } from './lib/query.js'
import type { RequestLike } from './request.js'

/** A token taken from the `Authorization` header. */
export interface Credentials {
  /** The scheme as this library names it (`Bearer`, `DPoP`), whatever case the client sent. */
  readonly scheme: 'Bearer' | 'DPoP'
  readonly token: string
}

/** Options of {@link readCredentials}. */
export interface ReadCredentialsOptions {
  /** The schemes the caller handles. */
  readonly schemes: readonly ('Bearer' | 'DPoP')[]
  /** Longest token accepted, checked before any parsing. */
  readonly maxTokenLength: number
  /** The challenges errors carry. */
  readonly challenges: readonly Challenge[]
}

// RFC 6750 §2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
const b64token = /^[A-Za-z0-9\-._~+/]+=*$/
// RFC 6750 §2.3 names the query parameter; any occurrence counts, whatever its value, under any
// encoding of its name that the frameworks decode to it (`%61ccess_token`).
const queryTokenName = 'access_token'

/**
 * Reads the access token from the `Authorization` header, enforcing RFC 6750 §2: one credential only,
 * none in the query string (an `access_token` parameter under any name encoding the frameworks decode,
 * such as `%61ccess_token`), b64token syntax, and a size bound checked before any parsing.
 * Auth-schemes are case-insensitive (RFC 9110 §11.1), so `bearer` is `Bearer`.
 *
 * Returns `undefined` when the request carries no credential for these schemes.
 *
 * @example
 * const credentials = readCredentials(req, { schemes: ['Bearer'], maxTokenLength: 8192, challenges })
 * @throws ZeroTrustError `invalid_request` (400) for several credentials, a query token or a malformed
 * header; `invalid_token` (401) for a token over the size bound.
 * @see https://www.rfc-editor.org/rfc/rfc6750#section-2
 */
export function readCredentials(req: RequestLike, options: ReadCredentialsOptions): Credentials | undefined {
  const credentials = takeCredentials(req, options)
  if (credentials !== undefined) checkTokenSyntax(credentials.token, options)
  return credentials
}

/**
 * {@link readCredentials} without the token syntax check, whose cost grows with the token's length.
 * For a layer that first looks the token up among tokens it already verified (which passed the check),
 * and calls {@link checkTokenSyntax} on a miss.
 */
export function takeCredentials(req: RequestLike, options: ReadCredentialsOptions): Credentials | undefined {
  const values = req.headerValues('authorization')
  const inQuery = req.target.length !== req.path.length && hasQueryParameter(req.target, queryTokenName)
  if (values.length > 1 || (inQuery && values.length === 1)) {
    throw invalidRequest('the request carries more than one credential', 'multiple_credentials', options)
  }
  if (inQuery) {
    throw invalidRequest('access tokens in the query string are not accepted', 'token_in_query', options)
  }
  const header = values[0]
  if (header === undefined) return undefined

  const space = header.indexOf(' ')
  const scheme = matchScheme(space === -1 ? header : header.slice(0, space), options.schemes)
  if (scheme === undefined) return undefined

  const token = space === -1 ? '' : header.slice(space + 1).trim()
  if (token.length > options.maxTokenLength) {
    throw new ZeroTrustError('invalid_token', 'the access token is too large', {
      reason: 'token_too_large',
      challenges: options.challenges,
    })
  }
  if (token === '') throw malformed(options)
  return { scheme, token }
}

/**
 * Checks the RFC 6750 §2.1 b64token syntax of a token.
 *
 * @throws ZeroTrustError `invalid_request` (400) when the token has other characters
 */
export function checkTokenSyntax(token: string, options: Pick<ReadCredentialsOptions, 'challenges'>): void {
  if (!b64token.test(token)) throw malformed(options)
}

function malformed(options: Pick<ReadCredentialsOptions, 'challenges'>): ZeroTrustError {
  return invalidRequest('the Authorization header is malformed', 'malformed_authorization', options)
}

function matchScheme(
  text: string,
  schemes: ReadCredentialsOptions['schemes'],
): 'Bearer' | 'DPoP' | undefined {
  for (const scheme of schemes) {
    if (text.length === scheme.length && text.toLowerCase() === scheme.toLowerCase()) return scheme
  }
  return undefined
}

function invalidRequest(
  message: string,
  reason: string,
  options: Pick<ReadCredentialsOptions, 'challenges'>,
): ZeroTrustError {
  return new ZeroTrustError('invalid_request', message, { reason, challenges: options.challenges })
}
