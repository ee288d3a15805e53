import type { Auth } from '@zerotrust/core'

declare module 'koa' {
  interface DefaultState {
    /** Who sent the request, set by `authenticate()`; absent before it runs. */
    auth?: Auth
  }
}
