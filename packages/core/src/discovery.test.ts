import { describe, expect, it } from 'vitest'
import { authorizationServerDiscovery, type DiscoveryFunctions } from './discovery.js'

const issuer = new URL('https://idp.example.com/')

/** oauth4webapi's two discovery functions, answering by location from a script of statuses. */
function scripted(statuses: Partial<Record<'oidc' | 'oauth2', number[]>>) {
  const calls: string[] = []
  const functions: DiscoveryFunctions<{ issuer: string; token_endpoint: string; from: string }> = {
    async discoveryRequest(_issuer, options) {
      calls.push(options.algorithm)
      const status = statuses[options.algorithm]?.shift() ?? 200
      return new Response(status === 200 ? options.algorithm : null, { status })
    },
    async processDiscoveryResponse(_issuer, response) {
      if (response.status !== 200) throw new Error(`discovery answered ${response.status}`)
      return { issuer: issuer.href, token_endpoint: `${issuer.href}token`, from: await response.text() }
    },
  }
  return { calls, functions }
}

describe('authorizationServerDiscovery (issue 17)', () => {
  it('skips discovery when the token endpoint is configured', async () => {
    const { calls, functions } = scripted({})
    const discover = authorizationServerDiscovery(functions, {
      issuer,
      tokenEndpoint: 'https://idp.example.com/oauth/token',
    })
    expect(await discover()).toEqual({
      issuer: issuer.href,
      token_endpoint: 'https://idp.example.com/oauth/token',
    })
    expect(calls).toEqual([])
  })

  it('asks OpenID Connect Discovery first, RFC 8414 after a 404, and keeps the answer', async () => {
    const { calls, functions } = scripted({ oidc: [404] })
    const discover = authorizationServerDiscovery(functions, { issuer })
    expect(await discover()).toMatchObject({ from: 'oauth2' })
    expect(await discover()).toMatchObject({ from: 'oauth2' })
    expect(calls).toEqual(['oidc', 'oauth2'])
  })

  it('shares one attempt between concurrent callers, and tries again after a failure', async () => {
    const { calls, functions } = scripted({ oidc: [503] })
    const discover = authorizationServerDiscovery(functions, { issuer })
    const first = await Promise.allSettled([discover(), discover(), discover()])
    expect(first.map((r) => r.status)).toEqual(['rejected', 'rejected', 'rejected'])
    expect(calls).toEqual(['oidc'])
    expect(await discover()).toMatchObject({ from: 'oidc' })
    expect(calls).toEqual(['oidc', 'oidc'])
  })

  it("spreads the layer's request options into each request", async () => {
    const seen: object[] = []
    const marker = Symbol('customFetch')
    const discover = authorizationServerDiscovery(
      {
        async discoveryRequest(_issuer, options) {
          seen.push(options)
          return new Response('{}')
        },
        processDiscoveryResponse: async () => ({ issuer: issuer.href }),
      },
      { issuer, requestOptions: { [marker]: 'fetch' } },
    )
    await discover()
    expect(seen).toEqual([{ [marker]: 'fetch', algorithm: 'oidc' }])
  })
})
