// Every server `pnpm bench:peers` measures: per framework, the bare route, zerotrust, and the peers that
// users of that framework reach for. benchmarks/README.md says how each is configured and why.

export const frameworks = ['express', 'fastify', 'koa', 'hono'] as const
export type Framework = (typeof frameworks)[number]

/** What a contender is: the reference without authentication, ours, or a peer library. */
export type Kind = 'bare' | 'zerotrust' | 'peer'

export interface Contender {
  /** The name `peers/server.ts` takes, and `BENCH_PEERS` filters on. */
  readonly id: string
  readonly framework: Framework
  readonly kind: Kind
  /** How the results table and the chart name it. */
  readonly label: string
}

export const contenders: readonly Contender[] = [
  { id: 'express-bare', framework: 'express', kind: 'bare', label: 'no authentication' },
  { id: 'express-zerotrust', framework: 'express', kind: 'zerotrust', label: 'zerotrust' },
  {
    id: 'express-oauth2-jwt-bearer',
    framework: 'express',
    kind: 'peer',
    label: 'express-oauth2-jwt-bearer',
  },
  { id: 'express-jwt', framework: 'express', kind: 'peer', label: 'express-jwt + jwks-rsa' },
  { id: 'fastify-bare', framework: 'fastify', kind: 'bare', label: 'no authentication' },
  { id: 'fastify-zerotrust', framework: 'fastify', kind: 'zerotrust', label: 'zerotrust' },
  { id: 'fastify-jwt', framework: 'fastify', kind: 'peer', label: '@fastify/jwt + get-jwks' },
  {
    id: 'fastify-jwt-cache',
    framework: 'fastify',
    kind: 'peer',
    label: '@fastify/jwt + get-jwks, verify cache',
  },
  { id: 'koa-bare', framework: 'koa', kind: 'bare', label: 'no authentication' },
  { id: 'koa-zerotrust', framework: 'koa', kind: 'zerotrust', label: 'zerotrust' },
  { id: 'koa-jwt', framework: 'koa', kind: 'peer', label: 'koa-jwt + jwks-rsa' },
  { id: 'hono-bare', framework: 'hono', kind: 'bare', label: 'no authentication' },
  { id: 'hono-zerotrust', framework: 'hono', kind: 'zerotrust', label: 'zerotrust' },
  { id: 'hono-jwk', framework: 'hono', kind: 'peer', label: 'hono/jwk' },
]

/** What every server is told about the issuer, through the `PEERS_SETTINGS` environment variable. */
export interface ServerSettings {
  /** The issuer's origin, as the tokens' `iss` and the discovery document name it. */
  readonly issuer: string
  readonly jwksUri: string
  readonly audience: string
  /** The JWS algorithm of the issuer's key: `ES256` or `RS256`. */
  readonly algorithm: 'ES256' | 'RS256'
}
