import { serve } from '@hono/node-server'
import { buildApp } from './app.js'

const issuer = process.env.ISSUER
if (issuer === undefined) {
  console.error('set ISSUER to the URL of your authorization server, such as https://idp.example.com/')
  process.exit(1)
}
const port = Number(process.env.PORT ?? 3000)
const app = buildApp({
  issuer,
  audience: process.env.AUDIENCE ?? 'api://orders',
  ...(process.env.PUBLIC_ORIGIN === undefined ? {} : { publicOrigin: process.env.PUBLIC_ORIGIN }),
})
serve({ fetch: app.fetch, port }, (info) => console.log(`orders API on http://localhost:${info.port}`))
