import https from 'node:https'
import { allOf } from '@zerotrust/core'
import { authenticate, errorHandler } from '@zerotrust/express'
import { jwtBearer } from '@zerotrust/jwt'
import { serverTls, svidFiles, workloadIdentity } from '@zerotrust/workload'
import express from 'express'

// The SVID spiffe-helper keeps in /run/spiffe: svid.pem, svid_key.pem, svid_bundle.pem.
const svid = svidFiles({ dir: '/run/spiffe' })
const tls = serverTls(svid) // requestCert, rejectUnauthorized, the bundle as `ca`

// The calling service: the SPIFFE ID of the client certificate the handshake verified.
const callers = workloadIdentity({ trustDomains: ['prod.example.com'], source: 'mtls' })
// The user the call is for: the access token the caller forwards.
const tokens = jwtBearer({
  issuer: 'https://idp.example.com/',
  audience: 'api://orders',
  algorithms: ['ES256'],
})

const app = express()
app.use(authenticate(allOf(callers, tokens), { publicOrigin: 'https://orders.prod.example.com' }))
app.post('/v1/charges', (req, res) => {
  // req.auth.subject is the user; req.auth.workload.id the service that called for them.
  res.status(201).json({ user: req.auth?.subject, via: req.auth?.workload?.id })
})
app.use(errorHandler())

// attach() swaps certificate and bundle with each rotation: new handshakes get the new ones.
tls.attach(https.createServer(tls, app)).listen(8443)
