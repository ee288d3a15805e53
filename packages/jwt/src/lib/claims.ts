import type { JoseHeader } from './jws.js'
import type { JwtBearerSettings } from './options.js'
import { invalidToken, missingClaim, unexpectedClaim } from './translate-error.js'

/** Checks the claims of one verified token, issued by `issuer`. */
export type ClaimCheck = (
  header: JoseHeader,
  claims: Readonly<Record<string, unknown>>,
  issuer: string,
) => void

/**
 * The one place where a token's claims are judged: `typ`, the required claims, `iss`, `aud`, `iat`,
 * `nbf`, `exp` and the token's age, with the checks and in the order of jose's `jwtVerify` given the
 * options jwtBearer used to pass it, so that a token with several faults is refused for the same one;
 * then RFC 8725 §3.10 / RFC 9068 §4: a token issued in the future is refused even without
 * `maxTokenAgeSeconds` (jose checks `iat` only with it), with the tolerance that applies to `exp` and
 * `nbf`. The identifier claims' types are core's claimsToAuth's to check (lib/to-auth.ts).
 *
 * A differential test (src/verify-equivalence.test.ts) holds this to jose's jwtVerify over the test
 * tokens and thousands of generated ones.
 *
 * @see https://www.rfc-editor.org/rfc/rfc7519#section-7.2
 * @see https://www.rfc-editor.org/rfc/rfc9068#section-4
 */
export function claimCheck(o: JwtBearerSettings): ClaimCheck {
  const typ = o.typ === undefined ? undefined : normalizeTyp(o.typ)
  const { audience, clockTolerance: tolerance, maxTokenAge } = o
  // jose lists the required claims, then `iat` (with maxTokenAge), `aud` and `iss`, and checks them from
  // the end of that list, each once: the first one missing in that order is the one reported.
  const listed = [...o.requiredClaims, ...(maxTokenAge === undefined ? [] : ['iat']), 'aud', 'iss']
  const required = [...new Set(listed.reverse())]

  return (header, claims, issuer) => {
    // RFC 9068 §4: `typ` compared without its optional "application/" prefix and regardless of case.
    if (typ !== undefined && (typeof header.typ !== 'string' || normalizeTyp(header.typ) !== typ)) {
      throw invalidToken('typ')
    }
    for (const claim of required) if (!Object.hasOwn(claims, claim)) throw missingClaim(claim)
    if (claims.iss !== issuer) throw unexpectedClaim('iss')
    if (!hasAudience(claims.aud, audience)) throw unexpectedClaim('aud')

    const now = Math.floor(Date.now() / 1000)
    const iat = numericDate(claims, 'iat', maxTokenAge !== undefined)
    // jose reports an "nbf" of the wrong type as it reports one in the future: "not yet valid".
    const { nbf } = claims
    if (nbf !== undefined && (typeof nbf !== 'number' || nbf > now + tolerance)) {
      throw invalidToken('not_yet_valid')
    }
    const exp = numericDate(claims, 'exp', false)
    if (exp !== undefined && exp <= now - tolerance) throw invalidToken('expired')
    if (maxTokenAge !== undefined) {
      const age = now - (iat as number)
      if (age - tolerance > maxTokenAge) throw invalidToken('too_old')
      if (age < -tolerance) throw invalidToken('iat_in_future')
    }
    if (iat !== undefined && iat > now + tolerance) throw invalidToken('iat_in_future')
  }
}

function normalizeTyp(value: string): string {
  const lower = value.toLowerCase()
  return value.includes('/') ? lower : `application/${lower}`
}

// RFC 7519 §4.1.3: one of our audiences, as the string or a member of the array.
function hasAudience(aud: unknown, audience: readonly string[]): boolean {
  if (typeof aud === 'string') return audience.includes(aud)
  return Array.isArray(aud) && audience.some((value) => aud.includes(value))
}

/** A NumericDate claim (RFC 7519 §2): a number, when present or required. */
function numericDate(
  claims: Readonly<Record<string, unknown>>,
  claim: 'iat' | 'exp',
  required: boolean,
): number | undefined {
  const value = claims[claim]
  if (value === undefined && !required) return undefined
  if (typeof value !== 'number') throw unexpectedClaim(claim)
  return value
}
