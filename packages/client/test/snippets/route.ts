import type { ZeroTrustClient } from '@zerotrust/client'
import { authenticate, errorHandler } from '@zerotrust/express'
import { jwtBearer } from '@zerotrust/jwt'
import express, { type Express } from 'express'

declare const billing: ZeroTrustClient

const app: Express = express()
app.use(
  authenticate(
    jwtBearer({ issuer: 'https://idp.example.com/', audience: 'api://checkout', algorithms: ['ES256'] }),
  ),
)
app.post('/orders/:id/pay', express.json(), async (req, res, next) => {
  try {
    // The caller's order id is the key: a retry of this route, or of the client's own attempts, charges once.
    const answer = await billing.fetch('/v1/charges', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ order: req.params.id, amount: (req.body as { amount: number }).amount }),
      idempotencyKey: `order-${req.params.id}`,
      deadline: 5_000,
    })
    res.status(201).json(await answer.json())
  } catch (error) {
    // An OutboundError is a ZeroTrustError: billing down is answered 503 with Retry-After, never 401.
    next(error)
  }
})
app.use(errorHandler())
export default app
