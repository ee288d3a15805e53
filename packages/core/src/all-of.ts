import type { Auth, Authenticator, Workload } from './auth.js'
import { ZeroTrustError } from './errors.js'
import { isThenable } from './lib/thenable.js'
import { presentedToken, recordPresentedToken } from './presented-token.js'
import type { RequestLike } from './request.js'

/**
 * Combines authenticators that must all succeed: typically the workload that sent the request (its
 * mTLS certificate or a trusted sidecar's header) and the user its token speaks for. They run in the
 * order given, so put the workload first; the first refusal is the answer and the rest do not run.
 *
 * The result is the user's `Auth` (the first one that is not a workload's alone) with `workload` set
 * from the authenticator that proved one; its layer name joins theirs with `&` (`workload&jwt`). When
 * two authenticators prove different workloads, the request is refused with 401
 * `unauthenticated_workload` (`workload_mismatch`).
 *
 * @example
 * const callers = workloadIdentity({ trustDomains: ['prod.example.com'], source: 'mtls' })
 * app.use(authenticate(allOf(callers, jwtBearer({ ... }))))
 * @throws TypeError when no authenticator is given
 */
export function allOf(...authenticators: readonly Authenticator[]): Authenticator {
  if (authenticators.length === 0) throw new TypeError('allOf: needs at least one authenticator')
  for (const [i, a] of authenticators.entries()) {
    if (typeof a?.authenticate !== 'function') {
      throw new TypeError(`allOf: argument ${i} must be an authenticator`)
    }
  }
  const all = [...authenticators]
  return {
    layer: all.map((a) => a.layer).join('&'),
    // In turn, and at once while each answers at once (a workload's certificate, a cached token): the
    // first that answers with a promise is awaited, and the rest after it. A refusal is a rejected promise.
    authenticate(req: RequestLike): Auth | Promise<Auth> {
      const results: Auth[] = []
      try {
        for (let i = 0; i < all.length; i++) {
          const answer = (all[i] as Authenticator).authenticate(req)
          if (isThenable(answer)) return awaitRest(all, i, answer, results, req)
          results.push(answer)
        }
        return merge(results)
      } catch (error) {
        return Promise.reject(error)
      }
    },
    accepts: (req) => all.every((a) => a.accepts === undefined || a.accepts(req)),
  }
}

async function awaitRest(
  all: readonly Authenticator[],
  from: number,
  pending: PromiseLike<Auth>,
  results: Auth[],
  req: RequestLike,
): Promise<Auth> {
  results.push(await pending)
  for (let i = from + 1; i < all.length; i++) results.push(await (all[i] as Authenticator).authenticate(req))
  return merge(results)
}

// A workload's own Auth (from `workloadIdentity`) carries no token: scheme `mtls`, format `x509`.
const workloadOnly = (auth: Auth): boolean => auth.workload !== undefined && auth.scheme === 'mtls'

function merge(results: readonly Auth[]): Auth {
  let workload: Workload | undefined
  for (const auth of results) {
    if (auth.workload === undefined) continue
    if (workload === undefined) workload = auth.workload
    else if (workload.id !== auth.workload.id) {
      throw new ZeroTrustError('unauthenticated_workload', 'the request proves two different workloads', {
        reason: 'workload_mismatch',
      })
    }
  }
  const user = results.find((auth) => !workloadOnly(auth)) ?? (results[0] as Auth)
  let responseHeaders: Record<string, string> | undefined
  for (const auth of results) {
    if (auth.responseHeaders !== undefined) responseHeaders = { ...responseHeaders, ...auth.responseHeaders }
  }
  if (results.length === 1) return user
  const merged: Auth = Object.freeze({
    ...user,
    ...(responseHeaders === undefined ? {} : { responseHeaders }),
    ...(workload === undefined ? {} : { workload }),
  })
  // The user's token goes with the user's Auth into the merged one, still out of sight.
  const token = presentedToken(user)
  if (token !== undefined) recordPresentedToken(merged, token)
  return merged
}
