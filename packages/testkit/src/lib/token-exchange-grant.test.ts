import { decodeJwt } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { signAccessToken } from '../access-token.js'
import { type AuthorizationServer, startAuthorizationServer } from '../authorization-server.js'

let as: AuthorizationServer

beforeAll(async () => {
  as = await startAuthorizationServer({
    resources: [
      { indicator: 'api://edge', scope: 'orders:read' },
      { indicator: 'api://orders', scope: 'orders:read orders:write' },
    ],
    clients: [{ clientId: 'edge', clientSecret: 'edge-secret' }, { clientId: 'other' }],
    tokenExchange: { clients: [{ clientId: 'edge' }] },
  })
})

afterAll(async () => {
  await as?.close()
})

async function exchange(params: Record<string, string>, clientId = 'edge', secret = 'edge-secret') {
  const response = await fetch(as.tokenEndpoint, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`${clientId}:${secret}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams({ grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange', ...params }),
  })
  return { status: response.status, body: (await response.json()) as Record<string, unknown> }
}

function subject(claims: Record<string, unknown> = {}): Promise<string> {
  return signAccessToken(as.keys[0] as never, {
    iss: as.issuer,
    sub: 'alice',
    aud: 'api://edge',
    client_id: 'web',
    scope: 'orders:read',
    ...claims,
  })
}

const accessTokenType = 'urn:ietf:params:oauth:token-type:access_token'

describe('the token exchange grant (RFC 8693)', () => {
  it('issues a narrowed token for the resource with act naming the client, nesting an earlier actor', async () => {
    const token = await subject({ act: { sub: 'gateway' } })
    const { status, body } = await exchange({
      subject_token: token,
      subject_token_type: accessTokenType,
      resource: 'api://orders',
    })
    expect(status).toBe(200)
    expect(body).toMatchObject({
      issued_token_type: accessTokenType,
      token_type: 'Bearer',
      scope: 'orders:read',
    })
    expect(decodeJwt(String(body.access_token))).toMatchObject({
      iss: as.issuer,
      sub: 'alice',
      aud: 'api://orders',
      client_id: 'edge',
      act: { sub: 'edge', act: { sub: 'gateway' } },
    })
  })

  it('applies the RFC checks', async () => {
    const token = await subject()
    const wrongType = await exchange({
      subject_token: token,
      subject_token_type: 'urn:x',
      resource: 'api://orders',
    })
    expect([wrongType.status, wrongType.body.error]).toEqual([400, 'invalid_request'])
    const invalid = await exchange({ subject_token: `${token}x`, subject_token_type: accessTokenType })
    expect([invalid.status, invalid.body.error]).toEqual([400, 'invalid_request'])
    const unknown = await exchange({
      subject_token: token,
      subject_token_type: accessTokenType,
      resource: 'api://x',
    })
    expect([unknown.status, unknown.body.error]).toEqual([400, 'invalid_target'])
    const wider = await exchange({
      subject_token: token,
      subject_token_type: accessTokenType,
      resource: 'api://orders',
      scope: 'orders:write',
    })
    expect([wider.status, wider.body.error]).toEqual([400, 'invalid_scope'])
    const other = as.clients.find((client) => client.clientId === 'other')
    const notAllowed = await exchange(
      { subject_token: token, subject_token_type: accessTokenType, resource: 'api://orders' },
      'other',
      other?.clientSecret,
    )
    expect(notAllowed.status).toBe(400)
  })

  it('leaves the client credentials grant as it was', async () => {
    await expect(as.token({ clientId: 'other', resource: 'api://orders' })).resolves.toMatchObject({
      tokenType: 'Bearer',
    })
  })
})
