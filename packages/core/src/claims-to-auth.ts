import type { Auth, Confirmation } from './auth.js'
import type { ZeroTrustError } from './errors.js'

/** The claims {@link claimsToAuth} reads, by the name they carry in a token or an introspection answer. */
export type AuthClaim = 'sub' | 'iss' | 'aud' | 'client_id' | 'azp' | 'scope' | 'scp' | 'exp' | 'cnf'

/** How {@link claimsToAuth} reads a set of claims, and how it refuses one of the wrong type. */
export interface ClaimsToAuthOptions {
  /** How the token was presented. */
  readonly scheme: Auth['scheme']
  /**
   * Where the claims come from. `jwt`: a JWT access token's payload (RFC 9068), where `azp` stands in for
   * an absent `client_id` and `scp` (Azure AD, Okta: an array or a space-separated string) for an absent
   * `scope`. `opaque`: an introspection answer (RFC 7662 §2.2), which has `client_id` and `scope` only.
   */
  readonly format: Auth['format']
  /**
   * The error for a claim of the wrong type. A layer that verified the token itself refuses the token
   * (401 `invalid_token`); a layer that was told the claims refuses the answer of whoever told it (503).
   */
  readonly invalidClaim: (claim: AuthClaim) => ZeroTrustError
}

/**
 * Builds the `Auth` of a set of claims that a layer has verified or been told, checking the type of each
 * claim it reads: a claim of the wrong type is refused with `invalidClaim(name)`, never cast. A numeric
 * `sub` could otherwise match another principal's id after a careless cast. Checks no value (issuer,
 * audience, times): that is the layer's.
 *
 * `claims` is frozen in place, deeply, and becomes `Auth.claims`: pass a copy of an object you still
 * write to.
 *
 * @example
 * const auth = claimsToAuth(payload, {
 *   scheme: 'Bearer',
 *   format: 'jwt',
 *   invalidClaim: (claim) =>
 *     new ZeroTrustError('invalid_token', `unexpected "${claim}" claim value`, { reason: `claim:${claim}` }),
 * })
 *
 * @see https://www.rfc-editor.org/rfc/rfc9068#section-2.2
 * @see https://www.rfc-editor.org/rfc/rfc7662#section-2.2
 */
export function claimsToAuth(claims: Record<string, unknown>, options: ClaimsToAuthOptions): Auth {
  const frozen = deepFreeze(claims) as Readonly<Record<string, unknown>>
  const read = new ClaimReader(frozen, options.invalidClaim)
  const jwt = options.format === 'jwt'
  // The order in which claims are read decides which one a token with several bad claims is refused for.
  const subject = read.string('sub')
  const clientId = jwt ? (read.string('client_id') ?? read.string('azp')) : read.string('client_id')
  const issuer = read.string('iss')
  const audience = read.audience()
  const expiresAt = read.number('exp')
  const scopes = read.scopes(jwt)
  const cnf = read.confirmation()
  return Object.freeze({
    subject,
    issuer,
    audience: Object.freeze(audience),
    clientId,
    scopes: Object.freeze(scopes),
    claims: frozen,
    scheme: options.scheme,
    format: options.format,
    expiresAt,
    cnf,
  } satisfies Auth)
}

class ClaimReader {
  readonly #claims: Readonly<Record<string, unknown>>
  readonly #invalidClaim: (claim: AuthClaim) => ZeroTrustError

  constructor(claims: Readonly<Record<string, unknown>>, invalid: (claim: AuthClaim) => ZeroTrustError) {
    this.#claims = claims
    this.#invalidClaim = invalid
  }

  string(name: AuthClaim): string | undefined {
    const value = this.#claims[name]
    if (value === undefined) return undefined
    if (typeof value !== 'string') throw this.#invalidClaim(name)
    return value
  }

  // JSON has no NaN or Infinity; a claim set built in code might.
  number(name: AuthClaim): number | undefined {
    const value = this.#claims[name]
    if (value === undefined) return undefined
    if (typeof value !== 'number' || !Number.isFinite(value)) throw this.#invalidClaim(name)
    return value
  }

  // RFC 7519 §4.1.3: one string, or an array of strings.
  audience(): string[] {
    const { aud } = this.#claims
    if (aud === undefined) return []
    if (typeof aud === 'string') return [aud]
    if (Array.isArray(aud) && aud.every((a) => typeof a === 'string')) return [...aud]
    throw this.#invalidClaim('aud')
  }

  // RFC 9068 §2.2.3, RFC 7662 §2.2: "scope" is a space-separated string.
  scopes(withScp: boolean): string[] {
    const scope = this.string('scope')
    if (scope !== undefined) return splitScope(scope)
    if (!withScp) return []
    const { scp } = this.#claims
    if (scp === undefined) return []
    if (typeof scp === 'string') return splitScope(scp)
    if (Array.isArray(scp) && scp.every((s) => typeof s === 'string')) return [...scp]
    throw this.#invalidClaim('scp')
  }

  // RFC 7800 §3.1: an object; of its members we read "jkt" (RFC 9449 §6.1) and "x5t#S256" (RFC 8705 §3.1).
  confirmation(): Confirmation | undefined {
    const { cnf } = this.#claims
    if (cnf === undefined) return undefined
    if (typeof cnf !== 'object' || cnf === null || Array.isArray(cnf)) throw this.#invalidClaim('cnf')
    const { jkt, 'x5t#S256': x5t } = cnf as Record<string, unknown>
    if ((jkt !== undefined && typeof jkt !== 'string') || (x5t !== undefined && typeof x5t !== 'string')) {
      throw this.#invalidClaim('cnf')
    }
    return cnf as Confirmation
  }
}

function splitScope(scope: string): string[] {
  return scope.split(' ').filter((s) => s !== '')
}

// With a stack of its own, not recursion: a 1 MiB introspection answer can nest a member 500 000 deep,
// which JSON.parse takes and a recursive walk would answer with a RangeError.
function deepFreeze<T>(root: T): T {
  const pending: unknown[] = [root]
  while (pending.length > 0) {
    const value = pending.pop()
    if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
      Object.freeze(value)
      for (const inner of Object.values(value)) pending.push(inner)
    }
  }
  return root
}
