import type { Mount } from '../harness.js'
import { mountExpress } from './express.js'
import { mountFastify } from './fastify.js'
import { mountHonoFetch, mountHonoNode } from './hono.js'
import { mountKoa } from './koa.js'

/** Every framework the suites run against, by the name their tests report. */
export const frameworks: Readonly<Record<string, Mount>> = {
  express: mountExpress,
  fastify: mountFastify,
  koa: mountKoa,
  'hono (node-server)': mountHonoNode,
  'hono (app.request)': mountHonoFetch,
}
