import type { Auth, Authenticator, ReplayStore } from '@zerotrust/core'
import type { VerifyOptions } from '@zerotrust/core/layer'
import type { DpopChallenges } from './challenges.js'
import type { RequestHtu } from './htu.js'
import type { StatelessNonces } from './nonces.js'
import type { ProofVerifier } from './proof.js'

/**
 * A token authenticator that can check a bare token: `jwtBearer(...)` and `introspection(...)` are.
 * `dpop()` reads the `DPoP` credential itself and asks it about the token.
 */
export interface TokenAuthenticator extends Authenticator {
  verify(token: string, options?: VerifyOptions): Promise<Auth>
  /**
   * The longest token it accepts, in characters. `dpop()` bounds the `DPoP` credential by it before
   * reading the proof; 16 384 when absent.
   */
  readonly maxTokenLength?: number
}

/**
 * Everything one `dpop()` layer holds, built once at construction: its options, its caches and its
 * challenges. Each step of a request reads it; nothing is kept at module level.
 */
export interface DpopState {
  readonly inner: TokenAuthenticator
  readonly required: boolean
  readonly maxTokenLength: number
  readonly maxProofLength: number
  /** Seconds a proof stays acceptable after its `iat`. */
  readonly maxProofAge: number
  /** Seconds a proof's `iat` may lie in the future. */
  readonly clockTolerance: number
  /** How long a proof's `jti` is remembered: as long as the proof could be accepted. */
  readonly replayTtlMs: number
  readonly proofs: ProofVerifier
  readonly replayStore: ReplayStore
  readonly nonces: StatelessNonces | undefined
  readonly htu: RequestHtu
  readonly challenges: DpopChallenges
}
