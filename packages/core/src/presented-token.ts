import type { Auth } from './auth.js'

// The token each Auth was made from, keyed by the Auth object itself. A WeakMap, not a property: the
// token is in no enumerable or own property of the Auth, so neither JSON.stringify, object spread,
// util.inspect nor a logger's serializer ever sees it, and it goes when the Auth is collected.
const presented = new WeakMap<Auth, string>()

/**
 * Records the access token an authenticator made `auth` from, so that code passing the user's identity
 * on for an RFC 8693 token exchange can send that very token as `subject_token`, and nothing else can
 * print it. `@zerotrust/jwt` and `@zerotrust/introspection` record every token they accept;
 * `@zerotrust/dpop` records none, since a DPoP-bound token is not to be presented without its proof.
 *
 * @example
 * const auth = claimsToAuth(payload, { scheme: 'Bearer', format: 'jwt', invalidClaim })
 * recordPresentedToken(auth, token)
 * @see https://www.rfc-editor.org/rfc/rfc8693#section-2.1
 */
export function recordPresentedToken(auth: Auth, token: string): void {
  presented.set(auth, token)
}

/**
 * The access token `auth` was made from, when its authenticator recorded one
 * ({@link recordPresentedToken}); `undefined` for a workload proven by its certificate alone, a DPoP
 * request, or an authenticator that records nothing. Never log what it returns.
 *
 * @example
 * const subjectToken = presentedToken(req.auth)
 * if (subjectToken === undefined) throw new ZeroTrustError('internal_error', 'no token to exchange')
 */
export function presentedToken(auth: Auth): string | undefined {
  return presented.get(auth)
}
