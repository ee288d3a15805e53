import { packageConfig } from '../../tsup.base.ts'

// `@zerotrust/secrets/pg` is its own entry, so only users who import it load pg.
export default packageConfig({ entry: ['src/index.ts', 'src/pg.ts'] })
