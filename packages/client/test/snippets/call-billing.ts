import type { webcrypto } from 'node:crypto'
import { clientCredentials, privateKeyJwt, zeroTrustClient } from '@zerotrust/client'
import { svidFiles } from '@zerotrust/workload'

declare const clientKey: webcrypto.CryptoKey // registered at the issuer as this client's public key (kid checkout-1)
declare const dpopKey: webcrypto.CryptoKeyPair // an ES256 key pair made at startup: proofs of possession

const svid = svidFiles({ dir: '/run/spiffe' }) // spiffe-helper's svid.pem, svid_key.pem, svid_bundle.pem

const billing = zeroTrustClient({
  baseUrl: 'https://billing.internal:8443',
  tls: svid, // this workload's SVID as client certificate, followed as it rotates
  expectPeer: 'spiffe://prod.example.com/ns/billing/sa/billing-api', // not the DNS name
  tokens: clientCredentials({
    issuer: 'https://idp.example.com/',
    clientId: 'checkout',
    auth: privateKeyJwt(clientKey, { kid: 'checkout-1' }),
    resource: 'api://billing',
    scope: 'charges:write',
  }),
  dpop: { key: dpopKey }, // tokens bound to this key, one proof per request
  retry: { attempts: 3 }, // only what is safe to repeat
})

export async function charge(orderId: string, amount: number): Promise<{ id: string }> {
  const res = await billing.fetch('/v1/charges', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ amount }),
    idempotencyKey: orderId, // one key for every attempt of this charge
  })
  return res.json<{ id: string }>()
}
