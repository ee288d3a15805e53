import { buildApp } from './app.js'

const issuer = process.env.ISSUER
if (issuer === undefined) {
  console.error('set ISSUER to the URL of your authorization server, such as https://idp.example.com/')
  process.exit(1)
}
const port = Number(process.env.PORT ?? 3000)
// Fastify listens on localhost only unless told otherwise; set HOST=0.0.0.0 in a container.
const host = process.env.HOST ?? 'localhost'
const app = buildApp({
  issuer,
  audience: process.env.AUDIENCE ?? 'api://orders',
  ...(process.env.PUBLIC_ORIGIN === undefined ? {} : { publicOrigin: process.env.PUBLIC_ORIGIN }),
})
app.listen({ port, host }).then(
  () => console.log(`orders API on http://${host}:${port}`),
  (error: unknown) => {
    console.error(error)
    process.exit(1)
  },
)
