// Arguments of store calls come from the layers of this project, not from requests; a wrong one is a
// programming error and rejects with a TypeError before anything is sent.

/** Checks a key before the prefix is added. */
export function checkKey(key: unknown): asserts key is string {
  if (typeof key !== 'string' || key.length === 0) throw new TypeError('"key" must be a non-empty string')
}

/**
 * A time to live in whole milliseconds for `PX`, rounded up so a window is never shortened.
 *
 * @throws TypeError when `value` is not a positive number of milliseconds
 */
export function pxMilliseconds(name: string, value: unknown): number {
  if (typeof value !== 'number' || !(value > 0) || value > Number.MAX_SAFE_INTEGER) {
    throw new TypeError(`"${name}" must be a positive number of milliseconds`)
  }
  return Math.ceil(value)
}

// With the `u` flag a paired surrogate is one code point; only a lone one is in category Cs.
const loneSurrogate = /\p{Cs}/u

/** Checks a request fingerprint: any well-formed string, so it reads back exactly as it was written. */
export function checkFingerprint(fingerprint: unknown): asserts fingerprint is string {
  if (typeof fingerprint !== 'string' || loneSurrogate.test(fingerprint)) {
    throw new TypeError('"fingerprint" must be a well-formed string')
  }
}
