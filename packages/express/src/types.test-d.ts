import type { Auth, RequireScopesOptions as CoreRequireScopesOptions } from '@zerotrust/core'
import type { Request } from 'express'
import { expectTypeOf, test } from 'vitest'
import type { AuthorizeOptions, authorize, RequireScopesOptions, requireScopes } from './index.js'

test('req.auth is typed by declaration merging', () => {
  expectTypeOf<Request['auth']>().toEqualTypeOf<Auth | undefined>()
  expectTypeOf<NonNullable<Request['auth']>['scopes']>().toEqualTypeOf<readonly string[]>()
})

test('the option types of authorize() and requireScopes() are exported beside them (issue 13)', () => {
  expectTypeOf<Parameters<typeof authorize>[1]>().toEqualTypeOf<AuthorizeOptions | undefined>()
  expectTypeOf<AuthorizeOptions>().toEqualTypeOf<{ readonly mountPath?: string }>()
  expectTypeOf<RequireScopesOptions>().toEqualTypeOf<CoreRequireScopesOptions>()
  expectTypeOf<Parameters<typeof requireScopes>[1]>().toEqualTypeOf<RequireScopesOptions | undefined>()
})
