// The zero-trust fleet, started and walked through on loopback: a real identity provider (oidc-provider),
// edge (Fastify), orders (Express) and billing (Koa), each with its own SVID, and a scripted client that
// tries what a user, a stolen credential, a stray workload and an outage would.
import { mkdirSync, writeFileSync } from 'node:fs'
import { request as httpsRequest } from 'node:https'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { connect as tlsConnect } from 'node:tls'
import type { ClientEvent } from '@zerotrust/client'
import {
  type AuthorizationServer,
  createDpopProof,
  generateSigningKey,
  type SigningKey,
  startAuthorizationServer,
} from '@zerotrust/testkit'
import {
  Audit,
  type AuditRecord,
  auditTable,
  type Hop,
  type Service,
  type StepMark,
  sequenceDiagram,
} from './audit.js'
import { type Billing, startBilling } from './billing.js'
import { type Edge, edgeIssuer, maxStaleSeconds, perUserLimit, startEdge, startEdgeKeys } from './edge.js'
import { type Orders, ordersIssuer, ordersKeys, startOrders } from './orders.js'
import { createPki, ids, type Pki, trustDomain } from './pki.js'
import { openStores, type Stores } from './stores.js'

/** Options of {@link runDemo}. */
export interface DemoOptions {
  /** Where the demo writes its lines; nowhere by default. */
  readonly log?: (line: string) => void
  /** Use the in-memory stores even when Redis answers. */
  readonly memory?: boolean
  /** Where to write the Mermaid sequence diagram; `<tmpdir>/zerotrust-demo/sequence.mmd` by default. */
  readonly diagramFile?: string
}

/** One step of the story: what was sent, what came back, and whether that is what zero trust demands. */
export interface DemoStep {
  readonly title: string
  /** What the step expects, in words. */
  readonly expected: string
  /** The requests sent, one line each. */
  readonly requests: readonly string[]
  /** The answers, one line each. */
  readonly answers: readonly string[]
  /** Why the fleet answered so. */
  readonly why: string
  readonly ok: boolean
  /** Statuses of the step's answers, in order (0 when no HTTP answer came). */
  readonly statuses: readonly number[]
  readonly hops: readonly Hop[]
}

/** What {@link runDemo} saw. */
export interface DemoResult {
  /** Whether every step answered as expected. */
  readonly ok: boolean
  readonly stores: 'redis' | 'memory'
  readonly steps: readonly DemoStep[]
  /** Every service's audit stream, in arrival order. */
  readonly audit: readonly AuditRecord[]
  readonly diagramFile: string
}

/** The origin users reach the edge at: DPoP proofs name it in `htu`, the edge never trusts `Host`. */
export const publicOrigin = 'https://shop.example.com'

/** An HTTP answer as the scripted client saw it. */
interface Answer {
  readonly status: number
  readonly headers: Readonly<Record<string, string>>
  readonly body: unknown
}

/** A user of the shop: a DPoP key pair, and tokens bound to it. */
interface User {
  readonly name: string
  readonly key: SigningKey
  /** A fresh DPoP-bound access token from the identity provider. */
  token(): Promise<string>
}

const describeBody = (body: unknown): string => {
  if (body === undefined) return ''
  const text = JSON.stringify(body)
  return text.length > 110 ? `${text.slice(0, 107)}...` : text
}

const problem = (answer: Answer): { code?: string; reason?: string } =>
  typeof answer.body === 'object' && answer.body !== null
    ? (answer.body as { code?: string; reason?: string })
    : {}

const answerLine = (answer: Answer, headers: readonly string[] = []): string => {
  const shown = headers
    .filter((name) => answer.headers[name] !== undefined)
    .map((name) => `${name}: ${answer.headers[name]}`)
  const { code, reason } = problem(answer)
  const summary =
    answer.status >= 400 && code !== undefined
      ? `${code}${reason === undefined ? '' : ` (${reason})`}`
      : describeBody(answer.body)
  return [`${answer.status} ${summary}`, ...shown].join('  |  ')
}

/**
 * Starts the fleet, walks the story, prints each step and the audit stream, writes the sequence diagram,
 * and stops everything it started. Resolves with what it saw; `ok` only if every step answered as
 * expected.
 *
 * @example
 * const { ok, steps, audit } = await runDemo({ log: console.log })
 */
export async function runDemo(options: DemoOptions = {}): Promise<DemoResult> {
  const log = options.log ?? (() => {})
  const diagramFile = options.diagramFile ?? join(tmpdir(), 'zerotrust-demo', 'sequence.mmd')
  const audit = new Audit()
  const steps: DemoStep[] = []
  const marks: StepMark[] = []
  const closers: (() => Promise<void> | void)[] = []
  let stores: Stores | undefined

  try {
    const pki: Pki = await createPki()
    closers.push(() => pki.remove())
    stores = await openStores({ memory: options.memory === true })
    const opened = stores
    closers.push(() => opened.close())

    const as: AuthorizationServer = await startAuthorizationServer({
      resources: [{ indicator: 'api://edge', scope: 'orders:read orders:refund' }],
      clients: [
        { clientId: 'alice', scope: 'orders:read', dpopBoundAccessTokens: true },
        { clientId: 'bob', scope: 'orders:read', dpopBoundAccessTokens: true },
        { clientId: 'carol', scope: 'orders:read orders:refund', dpopBoundAccessTokens: true },
        { clientId: 'dave', scope: 'orders:read', dpopBoundAccessTokens: true },
        { clientId: 'erin', scope: 'orders:read', dpopBoundAccessTokens: true },
      ],
    })
    closers.push(() => as.close())

    // Which service an outbound call went to, by the origin the client reports.
    const serviceAt = new Map<string, Service>()
    const onCall =
      (from: Service) =>
      (event: ClientEvent): void => {
        if (event.layer !== 'client') return
        audit.hop({
          from,
          to: serviceAt.get(event.origin) ?? event.origin,
          method: event.method,
          path: event.path,
          answer: event.status === undefined ? event.code : String(event.status),
        })
      }
    const tlsRefused = (service: Service) => (code: string) =>
      audit.record(service, { layer: 'tls', outcome: 'deny', code: 'handshake_refused', reason: code })

    // Keys first: billing is given orders' public keys, orders the edge's key endpoint.
    const edgeKeys = await startEdgeKeys(pki.edge.dir)
    closers.push(() => edgeKeys.close())
    const signing = ordersKeys(pki.orders.dir)
    closers.push(() => signing.svid.close())

    const billing: Billing = await startBilling({
      svidDir: pki.billing.dir,
      ordersIssuer,
      ordersJwks: signing.minted.jwks(),
      store: opened.idempotency,
      publicOrigin: 'https://billing.shop.example.com',
      onDecision: audit.sink('billing'),
      onTlsRefused: tlsRefused('billing'),
    })
    closers.push(() => billing.close())
    serviceAt.set(new URL(billing.url).origin, 'billing')

    const ordersService: Orders = await startOrders({
      keys: signing,
      edgeIssuer,
      edgeJwksUri: edgeKeys.jwksUri,
      billingUrl: billing.url,
      publicOrigin: 'https://orders.shop.example.com',
      onDecision: audit.sink('orders'),
      onCall: onCall('orders'),
      onTlsRefused: tlsRefused('orders'),
    })
    closers.push(() => ordersService.close())
    serviceAt.set(new URL(ordersService.url).origin, 'orders')

    const edgeService: Edge = await startEdge({
      keys: edgeKeys,
      issuer: as.issuer,
      publicOrigin,
      ordersUrl: ordersService.url,
      replayStore: opened.replay,
      redis: opened.redis,
      prefix: opened.prefix,
      onDecision: audit.sink('edge'),
      onCall: onCall('edge'),
    })
    closers.push(() => edgeService.close())

    log('zerotrust demo: a fleet in which no request is trusted for where it comes from')
    log('')
    log(`  identity provider  ${as.issuer}  oidc-provider: DPoP-bound RFC 9068 tokens for api://edge`)
    log(`  edge     (Fastify) ${edgeService.url}  ${ids.edge}`)
    log(`  orders   (Express) ${ordersService.url}  ${ids.orders}`)
    log(`  billing  (Koa)     ${billing.url}  ${ids.billing}`)
    log(`  trust domain       ${trustDomain}: one CA made for this run, an SVID per service`)
    log(
      opened.kind === 'redis'
        ? `  stores             Redis at 127.0.0.1:6379 (DPoP proof ids, per-user budgets, billing's idempotency keys), keys under ${opened.prefix}`
        : '  stores             in memory: Redis did not answer on 127.0.0.1:6379 (start one to see the fleet share them)',
    )
    log('')

    // ---- the scripted client ----
    const users = new Map<string, User>()
    const user = async (name: string): Promise<User> => {
      const known = users.get(name)
      if (known !== undefined) return known
      const key = await generateSigningKey('ES256')
      const created: User = {
        name,
        key,
        token: async () => {
          const proof = await createDpopProof(key, { method: 'POST', url: as.tokenEndpoint })
          const issued = await as.token({ clientId: name, dpopProof: proof })
          audit.hop({
            from: 'client',
            to: 'idp',
            method: 'POST',
            path: '/token',
            answer: '200 DPoP-bound token',
          })
          return issued.accessToken
        },
      }
      users.set(name, created)
      return created
    }
    const tokens = new Map<string, string>()
    const tokenOf = async (who: User): Promise<string> => {
      const known = tokens.get(who.name)
      if (known !== undefined) return known
      const token = await who.token()
      tokens.set(who.name, token)
      return token
    }

    /** A request to the edge as `who`, with a fresh DPoP proof unless one is given. */
    const toEdge = async (
      who: User,
      method: 'GET' | 'POST',
      path: string,
      given: { token?: string; proof?: string } = {},
    ): Promise<{ answer: Answer; proof: string; token: string }> => {
      const token = given.token ?? (await tokenOf(who))
      const proof =
        given.proof ??
        (await createDpopProof(who.key, { method, url: `${publicOrigin}${path}`, accessToken: token }))
      const response = await fetch(new URL(path, edgeService.url), {
        method,
        headers: { authorization: `DPoP ${token}`, dpop: proof, accept: 'application/json' },
        signal: AbortSignal.timeout(30_000),
      })
      const answer = await readAnswer(response)
      audit.hop({ from: 'client', to: 'edge', method, path, answer: String(answer.status) })
      return { answer, proof, token }
    }

    const step = async (
      title: string,
      expected: string,
      run: () => Promise<{
        requests: string[]
        answers: string[]
        statuses: number[]
        why: string
        ok: boolean
      }>,
    ): Promise<void> => {
      const from = audit.hops.length
      marks.push({ title, from: audit.records.length })
      let outcome: Awaited<ReturnType<typeof run>>
      try {
        outcome = await run()
      } catch (error) {
        outcome = {
          requests: [],
          answers: [`failed: ${error instanceof Error ? error.message : String(error)}`],
          statuses: [],
          why: 'the step could not run',
          ok: false,
        }
      }
      const done: DemoStep = { title, expected, ...outcome, hops: audit.hops.slice(from) }
      steps.push(done)
      log(`${String(steps.length).padStart(2)}. ${title}`)
      for (const line of done.requests) log(`    > ${line}`)
      for (const line of done.answers) log(`    < ${line}`)
      log(`    why: ${done.why}`)
      log(`    ${done.ok ? 'as expected' : 'NOT AS EXPECTED'}: ${expected}`)
      log('')
    }

    const alice = await user('alice')
    const bob = await user('bob')
    const carol = await user('carol')
    const dave = await user('dave')
    const erin = await user('erin')

    // 1. An allowed read; its proof is kept for the replay of step 5.
    let captured: { token: string; proof: string } | undefined
    await step('alice reads her own order', '200', async () => {
      const { answer, proof, token } = await toEdge(alice, 'GET', '/orders/o-1001')
      captured = { token, proof }
      return {
        requests: ["GET /orders/o-1001 to the edge, alice's DPoP-bound token and a fresh proof of her key"],
        answers: [answerLine(answer)],
        statuses: [answer.status],
        why: 'edge: token and proof verified, within her budget; it minted a 60 s token for orders alone, bound to its own certificate; orders: the caller is the edge (mTLS), policy owners-read-their-orders permits',
        ok: answer.status === 200,
      }
    })

    await step("alice reads bob's order", '403 by policy', async () => {
      const { answer } = await toEdge(alice, 'GET', '/orders/o-1002')
      return {
        requests: ['GET /orders/o-1002 to the edge as alice'],
        answers: [answerLine(answer)],
        statuses: [answer.status],
        why: "orders: no Cedar policy permits a member to read another user's order; the edge says 403, not orders' details",
        ok: answer.status === 403 && problem(answer).reason === 'denied_by_policy',
      }
    })

    await step("carol, admin of bob's tenant, reads bob's order", '200', async () => {
      const { answer } = await toEdge(carol, 'GET', '/orders/o-1002')
      return {
        requests: ['GET /orders/o-1002 to the edge as carol'],
        answers: [answerLine(answer)],
        statuses: [answer.status],
        why: "orders: policy tenant-admins-read-their-tenants-orders permits (carol is admin of acme, the order is acme's)",
        ok: answer.status === 200,
      }
    })

    await step(
      'alice asks for a refund without the orders:refund scope',
      '403 insufficient_scope',
      async () => {
        const { answer } = await toEdge(alice, 'POST', '/orders/o-1001/refund')
        return {
          requests: ['POST /orders/o-1001/refund to the edge as alice (her token holds orders:read only)'],
          answers: [answerLine(answer, ['www-authenticate'])],
          statuses: [answer.status],
          why: 'edge: the route needs orders:refund; refused before anything is sent inward',
          ok: answer.status === 403 && problem(answer).code === 'insufficient_scope',
        }
      },
    )

    await step("alice's request from step 1 captured and replayed", '401 invalid_dpop_proof', async () => {
      const { token, proof } = captured as { token: string; proof: string }
      const { answer } = await toEdge(alice, 'GET', '/orders/o-1001', { token, proof })
      return {
        requests: ['GET /orders/o-1001 to the edge, the same token and the same DPoP proof again'],
        answers: [answerLine(answer, ['www-authenticate'])],
        statuses: [answer.status],
        why: `edge: the proof's jti was seen before (${opened.kind === 'redis' ? 'in Redis, so any replica would know' : 'in memory'}); a proof is good once`,
        ok: answer.status === 401 && problem(answer).reason === 'replayed',
      }
    })

    await step(
      "alice's token sent straight to orders, skipping the edge",
      '403 wrong workload, then 401 not a token of the edge',
      async () => {
        const token = await tokenOf(alice)
        const headers = { authorization: `Bearer ${token}` }
        const asReports = await mtlsCall(
          ordersService.url,
          pki.reports,
          pki.ca.bundle,
          '/orders/o-1001',
          headers,
        )
        audit.hop({
          from: 'client',
          to: 'orders',
          method: 'GET',
          path: '/orders/o-1001',
          answer: String(asReports.status),
        })
        const asEdge = await mtlsCall(
          ordersService.url,
          pki.edgeSvid(),
          pki.ca.bundle,
          '/orders/o-1001',
          headers,
        )
        audit.hop({
          from: 'client',
          to: 'orders',
          method: 'GET',
          path: '/orders/o-1001',
          answer: String(asEdge.status),
        })
        return {
          requests: [
            `GET /orders/o-1001 to orders over mTLS as ${ids.reports}, Bearer alice's token`,
            "the same over mTLS as the edge itself (a compromised edge host forwarding the user's token)",
          ],
          answers: [answerLine(asReports), answerLine(asEdge, ['www-authenticate'])],
          statuses: [asReports.status, asEdge.status],
          why: "orders takes calls from the edge workload only, and only tokens the edge minted for it (issuer edge, audience orders, bound to the edge certificate); the identity provider's token is for api://edge",
          ok:
            asReports.status === 403 &&
            problem(asReports).reason === 'workload_not_allowed' &&
            asEdge.status === 401 &&
            problem(asEdge).code === 'invalid_token',
        }
      },
    )

    await step(
      'a workload of another trust domain calls orders',
      'refused in the TLS handshake',
      async () => {
        const answer = await mtlsCall(ordersService.url, pki.foreign, pki.ca.bundle, '/orders/o-1001', {})
        audit.hop({
          from: 'client',
          to: 'orders',
          method: 'GET',
          path: '/orders/o-1001',
          answer: answer.status === 0 ? 'TLS handshake refused' : String(answer.status),
        })
        return {
          requests: [`GET /orders/o-1001 to orders over mTLS as ${ids.foreign}`],
          answers: [answer.status === 0 ? `no HTTP answer: ${answer.error}` : answerLine(answer)],
          statuses: [answer.status],
          why: "its certificate chains to partner.example.net's CA, which is in no bundle of the fleet: the handshake fails and no request reaches the application",
          ok: answer.status === 0,
        }
      },
    )

    await step("carol refunds bob's order (she holds orders:refund)", '201, charged once', async () => {
      const { answer } = await toEdge(carol, 'POST', '/orders/o-1002/refund')
      return {
        requests: ['POST /orders/o-1002/refund to the edge as carol'],
        answers: [answerLine(answer)],
        statuses: [answer.status],
        why: 'orders: policy refunds-need-the-scope-and-an-order-under-90-days permits; it calls billing over mTLS with its own token for billing (act: orders, then edge) and Idempotency-Key "refund-o-1002"',
        ok: answer.status === 201 && billing.ledger.length === 1,
      }
    })

    await step(
      'carol retries the refund (her first answer was lost)',
      '201 replayed, still one charge',
      async () => {
        const { answer } = await toEdge(carol, 'POST', '/orders/o-1002/refund')
        const replayed = (answer.body as { replayed?: boolean } | undefined)?.replayed === true
        return {
          requests: ['POST /orders/o-1002/refund to the edge as carol, again'],
          answers: [answerLine(answer), `billing's ledger: ${billing.ledger.length} charge(s)`],
          statuses: [answer.status],
          why: `billing: the key "refund-o-1002" was used before with the same payload, so it replayed the stored answer (Idempotent-Replayed: true) from ${opened.kind === 'redis' ? 'Redis' : 'memory'} instead of charging again`,
          ok: answer.status === 201 && replayed && billing.ledger.length === 1,
        }
      },
    )

    await step('carol refunds an order of 120 days ago', '403 by policy', async () => {
      const { answer } = await toEdge(carol, 'POST', '/orders/o-1003/refund')
      return {
        requests: ['POST /orders/o-1003/refund to the edge as carol'],
        answers: [answerLine(answer)],
        statuses: [answer.status],
        why: 'orders: the refund policy permits orders under 90 days only (context.time - createdAt); billing is never called',
        ok: answer.status === 403 && billing.ledger.length === 1,
      }
    })

    await step(
      `dave sends ${perUserLimit + 4} requests at once, past his budget`,
      `${perUserLimit} x 200, then 429`,
      async () => {
        const answers = await Promise.all(
          Array.from({ length: perUserLimit + 4 }, () => toEdge(dave, 'GET', '/orders/o-1004')),
        )
        const statuses = answers.map(({ answer }) => answer.status)
        const limited = answers.find(({ answer }) => answer.status === 429)?.answer
        const allowed = statuses.filter((status) => status === 200).length
        return {
          requests: [`${perUserLimit + 4} x GET /orders/o-1004 to the edge as dave, each with its own proof`],
          answers: [
            `${allowed} x 200, ${statuses.filter((status) => status === 429).length} x 429`,
            limited === undefined
              ? 'no 429'
              : answerLine(limited, ['ratelimit-policy', 'ratelimit', 'retry-after']),
          ],
          statuses,
          why: `edge: budget "per-user" allows ${perUserLimit} requests a minute per user (${opened.kind === 'redis' ? 'counted in Redis, shared by replicas' : 'counted in memory'}); the rest wait Retry-After`,
          ok:
            allowed === perUserLimit &&
            limited !== undefined &&
            limited.headers.ratelimit !== undefined &&
            limited.headers['ratelimit-policy'] !== undefined,
        }
      },
    )

    await step(
      'the edge and orders get new SVIDs while erin reads',
      'every read 200, new certificates in use',
      async () => {
        const before = await presentedFingerprint(ordersService.url, pki)
        const rotated = Promise.all([rotation(edgeService), rotation(ordersService)])
        const reads: Promise<Answer>[] = []
        for (let i = 0; i < 8; i++) {
          if (i === 2) {
            await pki.rotate('edge')
            await pki.rotate('orders')
          }
          reads.push(toEdge(erin, 'GET', '/orders/o-2001').then(({ answer }) => answer))
          await sleep(50)
        }
        const answers = await Promise.all(reads)
        await Promise.race([
          rotated,
          sleep(15_000).then(() => Promise.reject(new Error('no rotation within 15 s'))),
        ])
        const after = await toEdge(erin, 'GET', '/orders/o-2001')
        const now = await presentedFingerprint(ordersService.url, pki)
        const statuses = [...answers.map((answer) => answer.status), after.answer.status]
        return {
          requests: [
            '9 x GET /orders/o-2001 to the edge as erin; new SVIDs written for edge and orders after the second',
          ],
          answers: [
            statuses.join(' '),
            `orders presented ${before.slice(0, 17)}... before, ${now.slice(0, 17)}... after`,
          ],
          statuses,
          why: 'svidFiles saw the new files and swapped them whole; serverTls gave new handshakes the new certificate, the client presented the new one and minted tokens bound to it; open connections finished on the old',
          ok: statuses.every((status) => status === 200) && before !== now,
        }
      },
    )

    await step(
      'the identity provider goes down, then comes back',
      '503 with Retry-After, then 200',
      async () => {
        const token = await bob.token() // issued before the outage; the edge has not seen it
        as.down()
        const requests = [
          `identity provider down; ${maxStaleSeconds + 0.5} s later (past the edge's maxStale of ${maxStaleSeconds} s) GET /orders/o-1002 as bob with a token the edge has not seen`,
        ]
        let down: Answer | undefined
        let up: Answer | undefined
        try {
          await sleep((maxStaleSeconds + 0.5) * 1000)
          down = (await toEdge(bob, 'GET', '/orders/o-1002', { token })).answer
        } finally {
          as.down(false)
        }
        const retryAfter = Math.min(Number(down.headers['retry-after'] ?? 1), 5)
        requests.push(
          `identity provider back; after Retry-After (${retryAfter} s) the same request with a new proof`,
        )
        // A bounded retry: the edge backs off a second after a failed fetch, Retry-After says how long.
        for (let attempt = 0; attempt < 3 && up?.status !== 200; attempt++) {
          await sleep(retryAfter * 1000)
          up = (await toEdge(bob, 'GET', '/orders/o-1002', { token })).answer
        }
        const last = up as Answer
        return {
          requests,
          answers: [answerLine(down, ['retry-after']), answerLine(last)],
          statuses: [down.status, last.status],
          why: "edge: it could not confirm the identity provider's keys for longer than maxStale, so it answered 503 (never 401, never open); once a key fetch succeeded it verified again",
          ok: down.status === 503 && down.headers['retry-after'] !== undefined && last.status === 200,
        }
      },
    )

    const ok = steps.every((done) => done.ok)
    log('audit stream of every service (decision events, and TLS handshakes refused)')
    for (const line of auditTable(audit.records, marks)) log(`  ${line}`)
    log('')
    mkdirSync(join(diagramFile, '..'), { recursive: true })
    writeFileSync(diagramFile, sequenceDiagram(steps))
    log(`sequence diagram of every call (Mermaid): ${diagramFile}`)
    log(
      ok
        ? `all ${steps.length} steps answered as expected`
        : `${steps.filter((done) => !done.ok).length} of ${steps.length} steps did NOT answer as expected`,
    )
    return { ok, stores: opened.kind, steps, audit: audit.records, diagramFile }
  } finally {
    for (const close of closers.reverse()) {
      try {
        await close()
      } catch {
        // Closing is best effort: the next closer still runs.
      }
    }
  }
}

async function readAnswer(response: Response): Promise<Answer> {
  const text = await response.text()
  let body: unknown
  if (text !== '') {
    try {
      body = JSON.parse(text)
    } catch {
      body = text
    }
  }
  return { status: response.status, headers: Object.fromEntries(response.headers), body }
}

/** A GET over mutual TLS presenting `svid`; status 0 and the error when no HTTP answer came. */
function mtlsCall(
  base: string,
  svid: { readonly chain: string; readonly key: string },
  bundle: string,
  path: string,
  headers: Readonly<Record<string, string>>,
): Promise<Answer & { error?: string }> {
  return new Promise((resolve) => {
    const req = httpsRequest(
      new URL(path, base),
      { method: 'GET', cert: svid.chain, key: svid.key, ca: bundle, headers, agent: false, timeout: 30_000 },
      (res) => {
        const chunks: Buffer[] = []
        res.on('data', (chunk: Buffer) => chunks.push(chunk))
        res.on('error', (error: NodeJS.ErrnoException) =>
          resolve({ status: 0, headers: {}, body: undefined, error: error.code ?? error.message }),
        )
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8')
          let body: unknown = text
          try {
            body = JSON.parse(text)
          } catch {
            // Not JSON: kept as text.
          }
          const flat: Record<string, string> = {}
          for (const [name, value] of Object.entries(res.headers)) {
            if (value !== undefined) flat[name] = Array.isArray(value) ? value.join(', ') : value
          }
          resolve({ status: res.statusCode ?? 0, headers: flat, body })
        })
      },
    )
    req.on('timeout', () => req.destroy(new Error('timed out')))
    req.on('error', (error: NodeJS.ErrnoException) =>
      resolve({ status: 0, headers: {}, body: undefined, error: error.code ?? error.message }),
    )
    req.end()
  })
}

/**
 * The SHA-256 fingerprint of the certificate a service presents in a new handshake, read as `reports`
 * (whose certificate the server verifies), the connection then closed cleanly without a request.
 */
function presentedFingerprint(base: string, pki: Pki): Promise<string> {
  const { port } = new URL(base)
  return new Promise((resolve, reject) => {
    const svid = pki.reports
    let fingerprint = ''
    const socket = tlsConnect(
      {
        host: '127.0.0.1',
        port: Number(port),
        cert: svid.chain,
        key: svid.key,
        ca: pki.ca.bundle,
        servername: 'localhost',
      },
      () => {
        fingerprint = socket.getPeerCertificate().fingerprint256
        socket.end()
      },
    )
    socket.setTimeout(30_000, () => socket.destroy(new Error('timed out')))
    socket.on('data', () => {})
    socket.on('error', reject)
    socket.on('close', () =>
      fingerprint === '' ? reject(new Error('no certificate')) : resolve(fingerprint),
    )
  })
}

/** Resolves at the service's next SVID rotation. */
function rotation(service: Edge | Orders): Promise<void> {
  return new Promise((resolve) => {
    const stop = service.svid.onRotate(() => {
      stop()
      resolve()
    })
  })
}
