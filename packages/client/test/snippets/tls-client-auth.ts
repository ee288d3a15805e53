import { clientCredentials, tlsClientAuth, zeroTrustClient } from '@zerotrust/client'
import { svidFiles } from '@zerotrust/workload'

const svid = svidFiles({ dir: '/run/spiffe' })

// RFC 8705: the SVID is the client's credential at the token endpoint (registered there with
// tls_client_auth_san_uri = this SPIFFE ID), and the issuer binds each token to it (cnf.x5t#S256).
const tokens = clientCredentials({
  issuer: 'https://idp.example.com/',
  clientId: 'checkout',
  auth: tlsClientAuth(),
  tls: svid,
  resource: 'api://inventory',
})

export const inventory = zeroTrustClient({
  baseUrl: 'https://inventory.internal:8443',
  tls: svid,
  expectPeer: [
    'spiffe://prod.example.com/ns/inventory/sa/api',
    'spiffe://prod.example.com/ns/inventory/sa/api-canary',
  ],
  tokens,
})
