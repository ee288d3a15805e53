import { allOf } from '@zerotrust/core'
import { actorChain, maxActorDepth } from '@zerotrust/exchange'
import { authenticate } from '@zerotrust/express'
import { jwtBearer } from '@zerotrust/jwt'
import { workloadIdentity } from '@zerotrust/workload'
import express from 'express'

const app = express()
app.use(
  authenticate(
    allOf(
      // Which workload calls: only the edge, proven by its certificate in mutual TLS.
      workloadIdentity({
        trustDomains: ['prod.example.com'],
        ids: ['spiffe://prod.example.com/ns/shop/sa/edge'],
      }),
      // Which user it calls for: the edge's internal token, for this service, at most one actor deep.
      maxActorDepth(
        jwtBearer({
          issuer: 'https://edge.internal/',
          audience: 'api://orders',
          algorithms: ['ES256'],
          jwksUri: 'https://edge.internal/.well-known/jwks.json',
        }),
        { maxDepth: 1 },
      ),
    ),
  ),
)
app.get('/orders/:id', (req, res) => {
  const [actor] = actorChain(req.auth) // { sub: 'spiffe://prod.example.com/ns/shop/sa/edge', iss: undefined }
  res.json({ user: req.auth?.subject, via: actor?.sub, scopes: req.auth?.scopes })
})
