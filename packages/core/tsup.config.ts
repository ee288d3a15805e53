import { packageConfig } from '../../tsup.base.ts'

// Three entry points: what users import, and the kits of layers and of adapters. Shared code goes to
// chunks of its own (splitting), so every entry sees one ZeroTrustError and one adapter context.
export default packageConfig({
  entry: { index: 'src/index.ts', adapter: 'src/kits/adapter.ts', layer: 'src/kits/layer.ts' },
  splitting: true,
})
