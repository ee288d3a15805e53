import { defineConfig } from 'vitest/config'

// Tests run against the sources, so `pnpm test` needs no build step: every workspace package lists
// `./src/*.ts` under the `@zerotrust/source` export condition (first in each `exports` entry), and this
// condition resolves `@zerotrust/*` imports to it, as `customConditions` in tsconfig.base.json does for
// tsc. Vite 6+ and vitest take a Node environment's conditions from `ssr.resolve.conditions`; the rest
// of the list is vitest's default for it.
const conditions = ['@zerotrust/source', 'node', 'development|production']

export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions } },
  test: {
    projects: [
      {
        extends: true,
        test: {
          name: 'packages',
          include: ['packages/*/src/**/*.test.ts', 'packages/*/test/**/*.test.ts'],
          environment: 'node',
          typecheck: { enabled: true, include: ['packages/*/src/**/*.test-d.ts'] },
        },
      },
      {
        extends: true,
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
