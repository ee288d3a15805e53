import { authenticate, authorize, errorHandler, requireScopes } from '@zerotrust/express'
import { jwtBearer } from '@zerotrust/jwt'
import { failureLimit, rateLimit } from '@zerotrust/ratelimit'
import express from 'express'
import { Redis } from 'ioredis'

const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379')
const tokens = jwtBearer({
  issuer: 'https://idp.example.com/',
  audience: 'api://orders',
  algorithms: ['ES256'],
})

// Before authentication: a peer whose tokens keep failing waits, and costs no signature check.
const guarded = failureLimit(tokens, { failures: 20, windowSeconds: 60 })

// After authentication: budgets per identity, shared by every replica through Redis.
const limits = rateLimit({
  budgets: [
    { name: 'order-writes', route: 'POST /orders', limit: 10, windowSeconds: 60 },
    { name: 'partners', scope: 'plan:partner', limit: 3000, windowSeconds: 60 },
    { name: 'default', limit: 300, windowSeconds: 60 },
  ],
  redis,
})

const app = express()
app.use(authenticate(guarded, { publicOrigin: 'https://api.example.com' }))
app.use(authorize(limits))
app.get('/orders', requireScopes('orders:read'), (_req, res) => {
  res.json([])
})
app.post('/orders', requireScopes('orders:write'), (_req, res) => {
  res.status(201).json({ created: true })
})
app.use(errorHandler())
app.listen(8080)
