import { isBoundedFetchError } from './bounded-fetch.js'

/**
 * Why a dependency could not be reached or used, as an operator acts on it: the `cause` of a 503
 * decision event. Stable values, derived from error codes only (Node's, undici's, OpenSSL's, the
 * bounded fetch's, oauth4webapi's), never from message text.
 *
 * - `dns`: the host name did not resolve (`ENOTFOUND`, `EAI_AGAIN`).
 * - `refused`: nothing listens there (`ECONNREFUSED`).
 * - `unreachable`: no route to the host or network (`EHOSTUNREACH`, `ENETUNREACH`).
 * - `reset`: the connection broke off (`ECONNRESET`, `EPIPE`, undici's socket errors).
 * - `tls`: the TLS handshake or the certificate check failed (`ERR_TLS_*`, `ERR_SSL_*`, OpenSSL's
 *   certificate codes such as `SELF_SIGNED_CERT_IN_CHAIN`).
 * - `timeout`: no answer in time (the bounded fetch's timeout, undici's timeouts, a `TimeoutError`).
 * - `aborted`: the caller gave up (an `AbortError`).
 * - `http_status`: it answered with a status it should not have (a 500, a 404).
 * - `too_large`: its answer was over the size limit.
 * - `bad_json`: its answer was not the JSON expected.
 * - `network`: the request failed in another way the codes do not say.
 *
 * @see https://nodejs.org/api/errors.html#common-system-errors
 */
export type FailureCause =
  | 'dns'
  | 'refused'
  | 'unreachable'
  | 'reset'
  | 'tls'
  | 'timeout'
  | 'aborted'
  | 'http_status'
  | 'too_large'
  | 'bad_json'
  | 'network'

/** Every {@link FailureCause}, as a frozen list (for metric labels and exhaustive checks). */
export const failureCauses: readonly FailureCause[] = Object.freeze([
  'dns',
  'refused',
  'unreachable',
  'reset',
  'tls',
  'timeout',
  'aborted',
  'http_status',
  'too_large',
  'bad_json',
  'network',
])

const byCode: Readonly<Record<string, FailureCause>> = {
  ENOTFOUND: 'dns',
  EAI_AGAIN: 'dns',
  EAI_FAIL: 'dns',
  EAI_NONAME: 'dns',
  EAI_NODATA: 'dns',
  ECONNREFUSED: 'refused',
  EHOSTUNREACH: 'unreachable',
  ENETUNREACH: 'unreachable',
  EHOSTDOWN: 'unreachable',
  ECONNRESET: 'reset',
  EPIPE: 'reset',
  ECONNABORTED: 'reset',
  UND_ERR_SOCKET: 'reset',
  UND_ERR_CLOSED: 'reset',
  ETIMEDOUT: 'timeout',
  UND_ERR_CONNECT_TIMEOUT: 'timeout',
  UND_ERR_HEADERS_TIMEOUT: 'timeout',
  UND_ERR_BODY_TIMEOUT: 'timeout',
  ERR_JWKS_TIMEOUT: 'timeout',
  ERR_FETCH_TIMEOUT: 'timeout',
  ERR_FETCH_ABORTED: 'aborted',
  ERR_FETCH_STATUS: 'http_status',
  ERR_FETCH_TOO_LARGE: 'too_large',
  ERR_FETCH_NOT_JSON: 'bad_json',
  UND_ERR_RESPONSE_STATUS_CODE: 'http_status',
  OAUTH_RESPONSE_IS_NOT_JSON: 'bad_json',
  OAUTH_PARSE_ERROR: 'bad_json',
  OAUTH_RESPONSE_IS_NOT_CONFORM: 'http_status',
  OAUTH_RESPONSE_BODY_ERROR: 'http_status',
  // OpenSSL's X.509 verification results, as Node reports them (`err.code`).
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'tls',
  UNABLE_TO_GET_ISSUER_CERT: 'tls',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'tls',
  SELF_SIGNED_CERT_IN_CHAIN: 'tls',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'tls',
  CERT_HAS_EXPIRED: 'tls',
  CERT_NOT_YET_VALID: 'tls',
  CERT_REVOKED: 'tls',
  CERT_UNTRUSTED: 'tls',
  CERT_REJECTED: 'tls',
  CERT_SIGNATURE_FAILURE: 'tls',
  HOSTNAME_MISMATCH: 'tls',
}

// A cause chain is short (fetch's TypeError, then the socket's error); this bounds a cyclic or hostile one.
const maxDepth = 8

/**
 * The {@link FailureCause} of a thrown value, found by walking its `cause` chain (and an
 * `AggregateError`'s `errors`, as Node's happy-eyeballs connect reports) for the first code it knows.
 * The bounded fetch's own `ERR_FETCH_NETWORK` defers to a more precise code beneath it, and is
 * `network` when there is none. `undefined` when nothing in the chain is a known code.
 *
 * @example
 * failureCause(error) // 'dns' for fetch('https://idp.invalid/')'s TypeError, whose cause is ENOTFOUND
 */
export function failureCause(error: unknown): FailureCause | undefined {
  let network = false
  let found: FailureCause | undefined
  const visit = (value: unknown, depth: number): void => {
    if (found !== undefined || depth > maxDepth || typeof value !== 'object' || value === null) return
    const { code, name } = value as { code?: unknown; name?: unknown }
    if (typeof code === 'string') {
      if (code === 'ERR_FETCH_NETWORK' && isBoundedFetchError(value)) network = true
      const known =
        byCode[code] ?? (code.startsWith('ERR_TLS_') || code.startsWith('ERR_SSL_') ? 'tls' : undefined)
      if (known !== undefined) {
        found = known
        return
      }
    }
    if (name === 'TimeoutError') {
      found = 'timeout'
      return
    }
    const errors = (value as { errors?: unknown }).errors
    if (Array.isArray(errors)) for (const inner of errors.slice(0, maxDepth)) visit(inner, depth + 1)
    visit((value as { cause?: unknown }).cause, depth + 1)
    if (found === undefined && name === 'AbortError') found = 'aborted'
  }
  visit(error, 0)
  return found ?? (network ? 'network' : undefined)
}
