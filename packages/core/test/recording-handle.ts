import type { CapturedResponse, IdempotencyHandle } from '../src/idempotency.js'

/** An idempotency handle that records what a capture hands it, for capture tests without a store. */
export function recorder(maxBodyBytes = 1024) {
  const seen: { completed: CapturedResponse[]; released: number; abandoned: number } = {
    completed: [],
    released: 0,
    abandoned: 0,
  }
  const handle: IdempotencyHandle = {
    maxBodyBytes,
    complete: async (response) => {
      seen.completed.push(response)
    },
    release: async () => {
      seen.released += 1
    },
    abandon: () => {
      seen.abandoned += 1
    },
  }
  return { handle, seen }
}

/** A captured body as text; `undefined` when it was not captured. */
export const text = (body: Uint8Array | undefined) =>
  body === undefined ? undefined : new TextDecoder().decode(body)
