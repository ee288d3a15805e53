import { type Challenge, ZeroTrustError } from '@zerotrust/core'
import { checkTokenSyntax, isCanonicalBase64url } from '@zerotrust/core/layer'
import { invalidToken } from './translate-error.js'

/**
 * A token in the JWS compact serialization (RFC 7515 §7.1): three segments, each in its one canonical
 * base64url spelling. Only {@link compactJws} makes one, so whatever reads its segments may decode them
 * without checking them again.
 */
export interface CompactJws {
  readonly token: string
  /** Where the first and the second dot are. */
  readonly first: number
  readonly second: number
}

/** A JWS protected header: a JSON object whose `alg` is a pinned algorithm. */
export interface JoseHeader {
  readonly alg: string
  readonly kid?: unknown
  readonly typ?: unknown
  readonly [parameter: string]: unknown
}

/** The protected header of a token, read and checked. */
export interface ReadHeader {
  readonly header: JoseHeader
  /**
   * `false` when the header asks for an unencoded payload (RFC 7797 `b64: false`, listed in `crit`):
   * not allowed in a JWT, which is refused once its signature has been checked, as jose does.
   */
  readonly b64: boolean
}

// RFC 7515 §5.2 steps 3 and 7: the header is UTF-8 JSON. Decoded as jose decodes it: invalid UTF-8
// refused, a leading byte order mark dropped.
const utf8 = new TextDecoder('utf-8', { fatal: true })

// Three segments of base64url characters, without padding: what almost every token is, checked in one
// scan. Such a token is also RFC 6750 token syntax.
const compactShape = /^[\w-]*\.[\w-]*\.[\w-]*$/

/**
 * The token's segments, when it has exactly three (anything else is not a compact JWS, and is refused
 * later as malformed), after the RFC 6750 token syntax (`invalid_request` when broken). A segment spelt
 * other than in canonical base64url (padding, `+` or `/`, unused trailing bits that are set) is refused
 * now as `non_canonical_encoding`: jose decodes such spellings to the same bytes, so one token could be
 * sent as several strings that verify alike and miss anything keyed on the text (the verified-token
 * cache). Linear in the token, whose length was bounded before; the usual token costs one regular
 * expression scan and a look at the last characters of each segment.
 */
export function compactJws(token: string, challenges: readonly Challenge[]): CompactJws | undefined {
  const shaped = compactShape.test(token)
  if (!shaped) checkTokenSyntax(token, { challenges })
  const first = token.indexOf('.')
  const second = first === -1 ? -1 : token.indexOf('.', first + 1)
  if (second === -1 || token.indexOf('.', second + 1) !== -1) return undefined
  const canonical = shaped
    ? // Every character is in the alphabet: what is left is the length and the unused bits at the end.
      canonicalEnd(token, 0, first) &&
      canonicalEnd(token, first + 1, second) &&
      canonicalEnd(token, second + 1, token.length)
    : isCanonicalBase64url(token.slice(0, first)) &&
      isCanonicalBase64url(token.slice(first + 1, second)) &&
      isCanonicalBase64url(token.slice(second + 1))
  if (!canonical) {
    throw new ZeroTrustError('invalid_token', 'the access token is not in canonical base64url', {
      reason: 'non_canonical_encoding',
      challenges,
    })
  }
  return { token, first, second }
}

/**
 * Whether the base64url segment from `start` to `end`, all of whose characters are in the alphabet, ends
 * canonically: its last (length mod 4) characters, which carry the unused bits, are checked by core's
 * isCanonicalBase64url; a length of 1 mod 4 is no base64 at all.
 */
function canonicalEnd(token: string, start: number, end: number): boolean {
  const rest = (end - start) % 4
  return rest === 0 || isCanonicalBase64url(token.slice(end - rest, end))
}

/**
 * The protected header, checked as jose checks it before it looks for a key, in jose's order, so that a
 * token with several faults is refused for the same one: a JSON object (else `malformed`); `crit`, when
 * present, a non-empty array of non-empty names, each understood (only `b64`, RFC 7797; any other is
 * `unsupported`, RFC 7515 §4.1.11) and present in the header, with `b64` a boolean (else `malformed`);
 * `alg` a non-empty string (else `malformed`) and one of the pinned algorithms (else `algorithm`: RFC 8725
 * §3.1, `none` is never pinned).
 */
export function readHeader(segment: string, algorithms: ReadonlySet<string>): ReadHeader {
  const header = readJson(segment)
  const b64 = readCrit(header)
  const { alg } = header
  if (typeof alg !== 'string' || alg === '') throw invalidToken('malformed')
  if (!algorithms.has(alg)) throw invalidToken('algorithm')
  return Object.freeze({ header: Object.freeze(header) as JoseHeader, b64 })
}

// An issuer signs with a handful of keys, so its tokens carry a handful of distinct headers.
const rememberedHeaders = 64

/**
 * Reads protected headers ({@link readHeader}) and remembers the ones it accepted by their exact text,
 * so that the next token with the same header skips base64url, UTF-8 and JSON decoding: a map lookup
 * instead of about a microsecond. Bounded: past 64 headers it forgets them all, so tokens with ever new
 * headers only make it forget. A refused header is never remembered.
 */
export class HeaderReader {
  readonly #algorithms: ReadonlySet<string>
  readonly #known = new Map<string, ReadHeader>()

  constructor(algorithms: ReadonlySet<string>) {
    this.#algorithms = algorithms
  }

  read(jws: CompactJws): ReadHeader {
    const segment = jws.token.slice(0, jws.first)
    let read = this.#known.get(segment)
    if (read === undefined) {
      read = readHeader(segment, this.#algorithms)
      if (this.#known.size >= rememberedHeaders) this.#known.clear()
      this.#known.set(segment, read)
    }
    return read
  }
}

/** The JWS signing input: the first two segments and the dot between them, as ASCII bytes. */
export function signingInput(jws: CompactJws): Buffer {
  return Buffer.from(jws.token.slice(0, jws.second), 'latin1')
}

/** The signature's bytes. */
export function signatureOf(jws: CompactJws): Buffer {
  return Buffer.from(jws.token.slice(jws.second + 1), 'base64url')
}

/** The claims: the payload must be a JSON object (RFC 7519 §7.2 step 10), else `malformed`. */
export function readPayload(jws: CompactJws): Record<string, unknown> {
  return readJson(jws.token.slice(jws.first + 1, jws.second))
}

/** The three segments as jose's key resolvers take them (a flattened JWS). */
export function flattened(jws: CompactJws): { protected: string; payload: string; signature: string } {
  const { token, first, second } = jws
  return {
    protected: token.slice(0, first),
    payload: token.slice(first + 1, second),
    signature: token.slice(second + 1),
  }
}

function readJson(segment: string): Record<string, unknown> {
  let value: unknown
  try {
    value = JSON.parse(utf8.decode(Buffer.from(segment, 'base64url')))
  } catch (cause) {
    throw invalidToken('malformed', { cause })
  }
  // JSON.parse makes plain objects only: an array, a string, a number, true, false or null is not one.
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalidToken('malformed')
  return value as Record<string, unknown>
}

function readCrit(header: Record<string, unknown>): boolean {
  const { crit } = header
  if (crit === undefined) return true
  if (
    !Array.isArray(crit) ||
    crit.length === 0 ||
    crit.some((name) => typeof name !== 'string' || name.length === 0)
  ) {
    throw invalidToken('malformed')
  }
  for (const name of crit as string[]) {
    if (name !== 'b64') throw invalidToken('unsupported')
    if (!Object.hasOwn(header, name)) throw invalidToken('malformed')
  }
  // RFC 7797 §3: `b64` is a boolean.
  if (typeof header.b64 !== 'boolean') throw invalidToken('malformed')
  return header.b64
}
