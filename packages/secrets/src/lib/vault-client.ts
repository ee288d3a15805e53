import { isZeroTrustError } from '@zerotrust/core'
import { readBoundedBody } from '@zerotrust/core/layer'
import { errorCode, sourceError } from './errors.js'
import { readSecretFile } from './read-file.js'
import { backgroundTimeout, renewDelay } from './timers.js'

/** How the client authenticates: a token (or a getter), or Kubernetes service-account login. */
export type VaultAuth =
  | { readonly kind: 'token'; readonly token: () => string }
  | { readonly kind: 'kubernetes'; readonly role: string; readonly jwtPath: string; readonly mount: string }

/** The validated settings of a Vault client. */
export interface VaultClientSettings {
  readonly address: URL
  readonly namespace: string | undefined
  readonly auth: VaultAuth
  readonly timeout: number
  readonly fetch: typeof globalThis.fetch
}

type Json = Record<string, unknown>

/** A lease Vault issued with a secret: its ID (never shown), duration in seconds, and the secret's data. */
export interface IssuedLease {
  readonly leaseId: string
  readonly duration: number
  readonly renewable: boolean
  readonly data: Json
}

// Vault's lease IDs are a path and a random suffix, well under this.
const maxLeaseIdLength = 1024

// A KV document or an auth response is a few KiB; anything this large is not one.
const maxResponseBytes = 1024 * 1024
const utf8 = new TextDecoder()

/** A `{ status }` outcome of a request, so callers can react to 403 and 404 without parsing text. */
class VaultStatus extends Error {
  constructor(readonly status: number) {
    super(`unexpected HTTP status ${status}`)
  }
}

/**
 * A minimal Vault HTTP API client: KV v2 reads, Kubernetes login, token lookup-self and renew-self, with
 * the token renewed at about two thirds of its TTL. Every error it raises is written here: no header,
 * token, body or upstream message ever reaches one.
 */
export class VaultClient {
  #token: string | undefined
  #login: Promise<string> | undefined
  #renewal: NodeJS.Timeout | undefined
  #closed = false
  readonly #abort = new AbortController()
  #report: (error: Error) => void = () => {}

  constructor(readonly settings: VaultClientSettings) {}

  /** Where background failures (renewals) are reported. */
  set report(report: (error: Error) => void) {
    this.#report = report
  }

  /**
   * Reads a KV v2 secret: `GET /v1/<mount>/data/<path>`. Returns the key/value data and the lease
   * duration in seconds (0 for KV), or `undefined` data when the path does not exist.
   *
   * @see https://developer.hashicorp.com/vault/api-docs/secret/kv/kv-v2#read-secret-version
   */
  async readKv(
    mount: string,
    path: string,
    version: number | undefined,
  ): Promise<{ data: Json | undefined; lease: number }> {
    const query = version === undefined ? '' : `?version=${version}`
    const target = `/v1/${segments(mount)}/data/${segments(path)}${query}`
    const what = `read of "${mount}/${path}"`
    let body: Json
    try {
      body = await this.#authenticated('GET', target)
    } catch (error) {
      if (error instanceof VaultStatus && error.status === 404) return { data: undefined, lease: 0 }
      throw this.#translate(error, what)
    }
    const outer = object(body.data)
    const data = object(outer?.data)
    if (data === undefined) {
      // A deleted or destroyed version answers with `data: null`.
      if (outer !== undefined && outer.data === null) return { data: undefined, lease: 0 }
      throw sourceError(`vault ${what} returned an unexpected document`, 'vault_response')
    }
    const lease = typeof body.lease_duration === 'number' ? body.lease_duration : 0
    return { data, lease }
  }

  /**
   * Issues database credentials: `GET /v1/<mount>/creds/<role>`. Returns the lease and the raw data
   * (`username`, `password`); `what` names the request in errors, which never carry the lease ID.
   *
   * @see https://developer.hashicorp.com/vault/api-docs/secret/databases#generate-credentials
   */
  async readCredentials(mount: string, role: string, what: string): Promise<IssuedLease> {
    let body: Json
    try {
      body = await this.#authenticated('GET', `/v1/${segments(mount)}/creds/${segments(role)}`)
    } catch (error) {
      throw this.#translate(error, what)
    }
    const data = object(body.data)
    const { lease_id: leaseId, lease_duration: duration } = body
    if (
      data === undefined ||
      typeof leaseId !== 'string' ||
      leaseId === '' ||
      leaseId.length > maxLeaseIdLength ||
      typeof duration !== 'number' ||
      !Number.isFinite(duration) ||
      duration <= 0
    ) {
      throw sourceError(`vault ${what} returned an unexpected document`, 'vault_response')
    }
    return { leaseId, duration, renewable: body.renewable === true, data }
  }

  /**
   * Renews a lease for `increment` seconds: `PUT /v1/sys/leases/renew`. Vault may grant less (the role's
   * `max_ttl` caps it). A refusal (a lease Vault no longer has, or that cannot be renewed) is reason
   * `lease_refused`; an unreachable Vault, `vault_unavailable`.
   *
   * @see https://developer.hashicorp.com/vault/api-docs/system/leases#renew-lease
   */
  async renewLease(
    leaseId: string,
    increment: number,
    what: string,
  ): Promise<{ duration: number; renewable: boolean }> {
    let body: Json
    try {
      body = await this.#authenticated('PUT', '/v1/sys/leases/renew', { lease_id: leaseId, increment })
    } catch (error) {
      throw this.#translate(error, what, 'vault_unavailable', 'lease_refused')
    }
    const duration = body.lease_duration
    if (typeof duration !== 'number' || !Number.isFinite(duration) || duration < 0) {
      throw sourceError(`vault ${what} returned an unexpected document`, 'vault_response')
    }
    return { duration, renewable: body.renewable === true }
  }

  /**
   * Revokes a lease: `PUT /v1/sys/leases/revoke` (for database credentials, Vault drops the role).
   *
   * @see https://developer.hashicorp.com/vault/api-docs/system/leases#revoke-lease
   */
  async revokeLease(leaseId: string, what: string): Promise<void> {
    try {
      await this.#authenticated('PUT', '/v1/sys/leases/revoke', { lease_id: leaseId })
    } catch (error) {
      throw this.#translate(error, what, 'vault_unavailable', 'lease_refused')
    }
  }

  /** Stops renewals and abandons requests in flight. */
  close(): void {
    this.#closed = true
    this.#abort.abort()
    if (this.#renewal !== undefined) clearTimeout(this.#renewal)
    this.#renewal = undefined
  }

  /**
   * Sends a request with the token, logging in again once when a Kubernetes-issued token is refused.
   * Failures of the request itself are thrown untranslated, for the caller to translate with its words.
   */
  async #authenticated(method: string, target: string, body?: Json): Promise<Json> {
    const token = await this.#currentToken()
    try {
      return await this.#send(method, target, token, body)
    } catch (error) {
      if (
        !(error instanceof VaultStatus) ||
        error.status !== 403 ||
        this.settings.auth.kind !== 'kubernetes'
      ) {
        throw error
      }
      // The token may have been revoked or expired early: a fresh login, then one retry.
      if (this.#token === token) this.#token = undefined
      return this.#send(method, target, await this.#currentToken(), body)
    }
  }

  async #currentToken(): Promise<string> {
    const auth = this.settings.auth
    if (auth.kind === 'token') {
      const token = auth.token()
      if (this.#token !== token) {
        // A new static token: look it up once to learn whether and when it must be renewed.
        this.#token = token
        void this.#lookup(token)
      }
      return token
    }
    if (this.#token !== undefined) return this.#token
    if (this.#login === undefined) {
      this.#login = this.#kubernetesLogin(auth).finally(() => {
        this.#login = undefined
      })
    }
    return this.#login
  }

  /** @see https://developer.hashicorp.com/vault/api-docs/auth/kubernetes#login */
  async #kubernetesLogin(auth: Extract<VaultAuth, { kind: 'kubernetes' }>): Promise<string> {
    const jwt = await readSecretFile(auth.jwtPath)
    if (jwt === undefined) {
      throw sourceError(`the service account token "${auth.jwtPath}" does not exist`, 'vault_auth')
    }
    let body: Json
    try {
      body = await this.#send('POST', `/v1/auth/${segments(auth.mount)}/login`, undefined, {
        role: auth.role,
        jwt: jwt.trim(),
      })
    } catch (error) {
      throw this.#translate(error, `kubernetes login as "${auth.role}"`, 'vault_auth')
    }
    const granted = object(body.auth)
    const token = granted?.client_token
    if (typeof token !== 'string' || token === '') {
      throw sourceError('vault kubernetes login returned no token', 'vault_auth')
    }
    this.#token = token
    this.#schedule(numberOr(granted?.lease_duration, 0), granted?.renewable === true)
    return token
  }

  /** @see https://developer.hashicorp.com/vault/api-docs/auth/token#lookup-a-token-self */
  async #lookup(token: string): Promise<void> {
    try {
      const body = await this.#send('GET', '/v1/auth/token/lookup-self', token)
      const data = object(body.data)
      if (this.#token === token) this.#schedule(numberOr(data?.ttl, 0), data?.renewable === true)
    } catch (error) {
      this.#report(this.#translate(error, 'token lookup', 'vault_auth'))
    }
  }

  /** @see https://developer.hashicorp.com/vault/api-docs/auth/token#renew-a-token-self */
  async #renew(): Promise<void> {
    const token = this.#token
    if (token === undefined || this.#closed) return
    try {
      const body = await this.#send('POST', '/v1/auth/token/renew-self', token, {})
      const granted = object(body.auth)
      if (this.#token === token)
        this.#schedule(numberOr(granted?.lease_duration, 0), granted?.renewable === true)
    } catch (error) {
      // A Kubernetes login can be repeated; a static token cannot, so its failure is only reported.
      if (this.settings.auth.kind === 'kubernetes' && this.#token === token) this.#token = undefined
      this.#report(this.#translate(error, 'token renewal', 'vault_auth'))
    }
  }

  #schedule(ttlSeconds: number, renewable: boolean): void {
    if (this.#renewal !== undefined) clearTimeout(this.#renewal)
    this.#renewal = undefined
    if (this.#closed || ttlSeconds <= 0) return
    const delay = renewDelay(ttlSeconds * 1000)
    this.#renewal = backgroundTimeout(() => {
      this.#renewal = undefined
      if (renewable) {
        void this.#renew()
      } else if (this.settings.auth.kind === 'kubernetes') {
        // Not renewable: log in again before it expires.
        this.#token = undefined
        void this.#currentToken().catch((error: unknown) => this.#report(error as Error))
      }
    }, delay)
  }

  async #send(method: string, target: string, token: string | undefined, body?: Json): Promise<Json> {
    const headers: Record<string, string> = { accept: 'application/json' }
    if (token !== undefined) headers['x-vault-token'] = token
    if (this.settings.namespace !== undefined) headers['x-vault-namespace'] = this.settings.namespace
    if (body !== undefined) headers['content-type'] = 'application/json'
    const response = await this.settings.fetch(new URL(target, this.settings.address), {
      method,
      headers,
      redirect: 'error',
      signal: AbortSignal.any([AbortSignal.timeout(this.settings.timeout), this.#abort.signal]),
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    })
    if (response.status < 200 || response.status >= 300) {
      await response.body?.cancel().catch(() => {})
      throw new VaultStatus(response.status)
    }
    // At most the limit is read, then the body is cancelled: a BoundedFetchError (ERR_FETCH_TOO_LARGE).
    const text = utf8.decode(await readBoundedBody(response, maxResponseBytes))
    // A revocation answers 204 with no body.
    if (text === '' && response.status === 204) return {}
    const value: unknown = JSON.parse(text)
    const json = object(value)
    if (json === undefined) throw new Error('response is not a JSON object')
    return json
  }

  /** The only place a failure becomes visible: status or error code, never text from the exchange. */
  #translate(error: unknown, what: string, reason = 'vault_unavailable', clientError = reason): Error {
    // Already one of ours, from a nested step.
    if (isZeroTrustError(error)) return error
    if (error instanceof VaultStatus) {
      const refused = error.status === 401 || error.status === 403
      const other = error.status >= 400 && error.status < 500 ? clientError : reason
      return sourceError(
        `vault ${what} failed with HTTP status ${error.status}`,
        refused ? 'vault_auth' : other,
      )
    }
    if (error instanceof SyntaxError) return sourceError(`vault ${what} returned invalid JSON`, reason)
    return sourceError(`vault ${what} failed (${errorCode(error)})`, reason)
  }
}

function segments(path: string): string {
  return path
    .split('/')
    .filter((segment) => segment !== '')
    .map(encodeURIComponent)
    .join('/')
}

function object(value: unknown): Json | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Json) : undefined
}

function numberOr(value: unknown, fallback: number): number {
  return typeof value === 'number' && Number.isFinite(value) ? value : fallback
}
