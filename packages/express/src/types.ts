import type { Auth } from '@zerotrust/core'

declare global {
  namespace Express {
    interface Request {
      /** Who sent the request, set by `authenticate()`; absent before it runs. */
      auth?: Auth
    }
  }
}
