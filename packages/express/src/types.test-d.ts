import type { Auth } from '@zerotrust/core'
import type { Request } from 'express'
import { expectTypeOf, test } from 'vitest'
import './index.js'

test('req.auth is typed by declaration merging', () => {
  expectTypeOf<Request['auth']>().toEqualTypeOf<Auth | undefined>()
  expectTypeOf<NonNullable<Request['auth']>['scopes']>().toEqualTypeOf<readonly string[]>()
})
