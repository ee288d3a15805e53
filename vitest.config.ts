import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vitest/config'

const src = (pkg: string) => fileURLToPath(new URL(`./packages/${pkg}/src/index.ts`, import.meta.url))

// Tests run against the sources, so `pnpm test` needs no build step.
const published = [
  'core',
  'jwt',
  'introspection',
  'secrets',
  'dpop',
  'cedar',
  'idempotency',
  'redis',
  'express',
  'fastify',
  'koa',
  'hono',
]
const alias = Object.fromEntries(published.map((name) => [`@zerotrust/${name}`, src(name)]))

export default defineConfig({
  resolve: { alias },
  test: {
    projects: [
      {
        resolve: { alias },
        test: {
          name: 'packages',
          include: ['packages/*/src/**/*.test.ts', 'packages/*/test/**/*.test.ts'],
          environment: 'node',
          typecheck: { enabled: true, include: ['packages/*/src/**/*.test-d.ts'] },
        },
      },
      {
        resolve: { alias },
        test: {
          name: 'examples',
          include: ['examples/*/test/**/*.test.ts'],
          environment: 'node',
          testTimeout: 30_000,
        },
      },
    ],
  },
})
