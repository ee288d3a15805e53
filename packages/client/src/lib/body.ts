// Answers are read whole, but never more than a bound: a declared length over it is refused unread, and
// otherwise bytes are counted as they arrive (a length can lie) and the stream is destroyed once past it.
import type { Readable } from 'node:stream'

/** The answer's body was larger than the bound. */
export class BodyTooLargeError extends Error {
  override readonly name = 'BodyTooLargeError'
  constructor() {
    super('the response body is larger than allowed')
  }
}

/**
 * The whole body, at most `maxBytes` of it.
 *
 * @throws BodyTooLargeError past `maxBytes`; the stream's own error when it breaks off
 */
export function readBody(
  body: Readable,
  maxBytes: number,
  declared: string | string[] | undefined,
): Promise<Buffer> {
  if (typeof declared === 'string' && Number(declared) > maxBytes) {
    body.destroy()
    return Promise.reject(new BodyTooLargeError())
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    body.on('data', (chunk: Buffer) => {
      size += chunk.byteLength
      if (size > maxBytes) {
        body.destroy(new BodyTooLargeError())
        return
      }
      chunks.push(chunk)
    })
    body.once('end', () => resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size)))
    body.once('error', reject)
  })
}

/** The body of an error answer, at most `maxBytes` of it; past that, `undefined` (and the stream is dropped). */
export async function readErrorBody(
  body: Readable,
  maxBytes: number,
  declared: string | string[] | undefined,
): Promise<Buffer | undefined> {
  try {
    return await readBody(body, maxBytes, declared)
  } catch (error) {
    if (error instanceof BodyTooLargeError) return undefined
    throw error
  }
}
