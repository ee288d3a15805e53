import type { AuthScheme, ZeroTrustError } from './errors.js'
import type { RequestLike } from './request.js'

/** Confirmation claims that bind a token to a key or a certificate (RFC 7800, RFC 8705, RFC 9449). */
export interface Confirmation {
  /** RFC 9449: the RFC 7638 thumbprint of the DPoP proof key. */
  readonly jkt?: string
  /** RFC 8705: base64url SHA-256 of the client certificate's DER. */
  readonly 'x5t#S256'?: string
}

/**
 * The workload (service) that sent a request, as its SPIFFE ID: proven by its client certificate in mTLS,
 * or by a trusted sidecar that terminated that mTLS (Envoy's `x-forwarded-client-cert`, Linkerd's
 * `l5d-client-id`).
 *
 * @example { id: 'spiffe://prod.example.com/ns/shop/sa/checkout', trustDomain: 'prod.example.com',
 *   path: '/ns/shop/sa/checkout', proof: 'mtls' }
 * @see https://github.com/spiffe/spiffe/blob/main/standards/SPIFFE-ID.md
 */
export interface Workload {
  /** The SPIFFE ID, `spiffe://<trust domain><path>`. */
  readonly id: string
  /** The trust domain, such as `prod.example.com`. */
  readonly trustDomain: string
  /** The path, such as `/ns/shop/sa/checkout`; empty for the ID of a trust domain itself. */
  readonly path: string
  /**
   * How it was proven: `mtls` by the client certificate on this connection, `xfcc` by a trusted Envoy's
   * `x-forwarded-client-cert`, `l5d` by a trusted Linkerd proxy's `l5d-client-id`.
   */
  readonly proof: 'mtls' | 'xfcc' | 'l5d'
}

/**
 * Who sent a request, as an authenticator proved it.
 *
 * Adapters attach it where their users look: Express `req.auth`, Fastify `request.auth`, Koa
 * `ctx.state.auth`, Hono `c.get('auth')`.
 */
export interface Auth {
  /** The `sub` claim: the user or workload the token speaks for. */
  readonly subject: string | undefined
  /** The `iss` claim: who issued the token. */
  readonly issuer: string | undefined
  /** The `aud` claim, always as an array. */
  readonly audience: readonly string[]
  /** The OAuth client the token was issued to (`client_id`, or `azp`). */
  readonly clientId: string | undefined
  /** The granted scopes (`scope` split on spaces, or `scp`). */
  readonly scopes: readonly string[]
  /** Every claim of the token, read-only. */
  readonly claims: Readonly<Record<string, unknown>>
  /**
   * How the token was presented; `mtls` when no token was: a workload proven by its certificate alone
   * (`workloadIdentity` of `@zerotrust/workload`).
   */
  readonly scheme: AuthScheme | 'mtls'
  /**
   * `jwt` when verified locally, `opaque` when introspected, `x509` for a workload proven by its
   * certificate alone.
   */
  readonly format: 'jwt' | 'opaque' | 'x509'
  /** When the token expires, in seconds since the epoch. */
  readonly expiresAt: number | undefined
  /** The token's `cnf` claim, when it is bound to a key or certificate. */
  readonly cnf: Confirmation | undefined
  /**
   * Headers the adapter adds to the response of an allowed request, such as a fresh `DPoP-Nonce`
   * (RFC 9449 §8.2). Absent for most authenticators.
   */
  readonly responseHeaders?: Readonly<Record<string, string>>
  /**
   * The workload that sent the request, where one was proven: beside the user a token speaks for when
   * authenticators are combined with `allOf`.
   */
  readonly workload?: Workload
}

/**
 * Turns a request's credentials into an {@link Auth}, or throws a `ZeroTrustError`.
 *
 * Built once at startup and shared by every request.
 */
export interface Authenticator {
  /** The layer name reported in decision events, such as `jwt`. */
  readonly layer: string
  /**
   * Authenticates one request: the `Auth`, or a promise of it. An authenticator that can answer without
   * waiting (a verified-token cache hit) returns the `Auth` itself, which spares the adapter a promise
   * and a microtask per request; a refusal is a rejected promise (or a throw) carrying a
   * `ZeroTrustError`. Callers use `await`, or core's `runAuthentication`, which takes every form.
   */
  authenticate(req: RequestLike): Auth | Promise<Auth>
  /**
   * Whether this authenticator handles the credential the request carries, for {@link anyOf}. Absent
   * means it handles every request.
   */
  accepts?(req: RequestLike): boolean
}

/** What an {@link Authorizer} may report beside its answer, copied into the decision event. */
export interface DecisionDetails {
  /** The ids of the policies that determined the answer (Cedar's determining policies). */
  readonly policies?: readonly string[]
  /**
   * Evaluation problems that did not stop the answer (a policy that errored, and so was skipped). They
   * must not quote tokens, secrets or request data.
   */
  readonly diagnostics?: readonly string[]
}

/** The answer of an {@link Authorizer}. */
export type Decision =
  | ({
      readonly allowed: true
      /**
       * Headers the adapter adds to the response of the allowed request, as `Auth.responseHeaders` are
       * (the IETF `RateLimit` fields of `@zerotrust/ratelimit`), exposed to CORS clients. Names must be
       * header names and values printable ASCII; any other entry is left out.
       */
      readonly responseHeaders?: Readonly<Record<string, string>>
    } & DecisionDetails)
  | ({ readonly allowed: false; readonly error: ZeroTrustError } & DecisionDetails)

/** Answers allow or deny for an authenticated request. */
export interface Authorizer {
  /** The layer name reported in decision events, such as `scopes`. */
  readonly layer: string
  /**
   * Decides on one authenticated request: the {@link Decision}, or a promise of it. An authorizer that
   * decides without waiting (a scope check, a decision-cache hit) returns the decision itself. Callers
   * use `await`, or core's `runAuthorization`, which takes every form.
   */
  authorize(req: RequestLike, auth: Auth): Decision | Promise<Decision>
}
