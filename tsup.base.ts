import { defineConfig, type Options } from 'tsup'

/** The one build configuration every package shares: ESM only, types, source maps, no bundled deps. */
export function packageConfig(overrides: Options = {}) {
  return defineConfig({
    entry: ['src/index.ts'],
    format: ['esm'],
    target: 'node20',
    platform: 'node',
    dts: true,
    sourcemap: true,
    clean: true,
    treeshake: true,
    splitting: false,
    ...overrides,
  })
}
