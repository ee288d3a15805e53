import type { Challenge } from '@zerotrust/core'

/** The `WWW-Authenticate` challenges of one `dpop()` layer, built once. */
export interface DpopChallenges {
  /** The `DPoP` challenge alone, naming the accepted algorithms: a bearer request where DPoP is required. */
  readonly dpopOnly: readonly Challenge[]
  /** A refused DPoP request: the error on `DPoP`, the other accepted scheme offered bare (RFC 9449 §7.1). */
  readonly dpopFailure: readonly Challenge[]
  /** A refused bearer request: the error on `Bearer`, `DPoP` offered bare. */
  readonly bearerFailure: readonly Challenge[]
  /** No credentials: every accepted scheme (RFC 6750 §3.1: no error attribute for this code). */
  readonly missing: readonly Challenge[]
}

/**
 * The challenges of a layer with this `realm`, these algorithms (`algs`, space-separated), and bearer
 * tokens accepted or not.
 *
 * @see https://www.rfc-editor.org/rfc/rfc9449#section-7.1
 */
export function dpopChallenges(
  realm: string | undefined,
  algorithms: string,
  required: boolean,
): DpopChallenges {
  const realmParams = realm === undefined ? {} : { realm }
  const dpop: Challenge = { scheme: 'DPoP', params: { ...realmParams, algs: algorithms } }
  const bearer: Challenge = { scheme: 'Bearer', params: realmParams }
  const dpopOnly = Object.freeze([dpop])
  return Object.freeze({
    dpopOnly,
    dpopFailure: required ? dpopOnly : Object.freeze([dpop, { ...bearer, error: false }]),
    bearerFailure: Object.freeze([bearer, { ...dpop, error: false }]),
    missing: required ? dpopOnly : Object.freeze([dpop, bearer]),
  })
}
