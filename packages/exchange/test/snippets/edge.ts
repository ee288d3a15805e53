import { zeroTrustClient } from '@zerotrust/client'
import { internalTokens } from '@zerotrust/exchange'
import { authenticate, errorHandler } from '@zerotrust/express'
import { jwtBearer } from '@zerotrust/jwt'
import { files, loadSecrets } from '@zerotrust/secrets'
import { svidFiles } from '@zerotrust/workload'
import express from 'express'
import { z } from 'zod'

const secrets = await loadSecrets({
  schema: z.object({ EDGE_SIGNING_KEY: z.string().min(1) }), // a PKCS #8 PEM (or a JWK as JSON)
  sources: [files({ directory: '/var/run/secrets/edge' })],
})
const svid = svidFiles({ dir: '/run/spiffe' })

// Internal tokens: 60 s, bound to the edge's certificate, `act.sub` = the edge's SPIFFE ID.
const internal = internalTokens({
  issuer: 'https://edge.internal/',
  keys: secrets.EDGE_SIGNING_KEY, // rotates with the secret; the old key stays published
  bindTo: svid,
  audiences: ['api://orders'],
})
const orders = zeroTrustClient({
  baseUrl: 'https://orders.internal:8443',
  tls: svid,
  expectPeer: 'spiffe://prod.example.com/ns/shop/sa/orders',
  // Calls made for a user carry a token minted for orders alone, with one scope.
  onBehalfOf: { tokens: internal, audience: 'api://orders', scope: 'orders:read' },
})

const app = express()
// Downstream services fetch the keys here (`jwksUri`).
app.get('/.well-known/jwks.json', (_req, res) => {
  res.json(internal.jwks())
})
app.use(
  authenticate(
    jwtBearer({ issuer: 'https://idp.example.com/', audience: 'api://edge', algorithms: ['ES256'] }),
  ),
)
app.get('/orders/:id', async (req, res) => {
  // The user's token stops here. Without the client: internal.mint(req.auth, { audience, scope }).
  const answer = await orders.fetch(`/orders/${req.params.id}`, { onBehalfOf: req.auth })
  res.status(answer.status).json(answer.json())
})
app.use(errorHandler())
