import { createPrivateKey, X509Certificate } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { isZeroTrustError, type ZeroTrustError } from '@zerotrust/core'
import { createTestCa, issueSvid, type TestCa, type TestSvid } from '@zerotrust/testkit/ca'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { type Svid, type SvidSource, svidFiles } from './svid-files.js'

const td = 'prod.example.com'
const id = (path: string) => `spiffe://${td}/${path}`
const hour = 3600_000

let ca: TestCa
let api: TestSvid
const dirs: string[] = []
const sources: SvidSource[] = []

beforeAll(async () => {
  ca = await createTestCa({ trustDomain: td })
  api = await issueSvid(ca, { spiffeId: id('api') })
})

afterEach(() => {
  for (const source of sources.splice(0)) source.close()
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true })
})

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'zerotrust-svid-'))
  dirs.push(dir)
  return dir
}

/** Writes spiffe-helper's three files, in its order: certificate, key, bundle. */
function writeSvid(dir: string, svid: TestSvid, bundle = svid.bundle): void {
  writeFileSync(join(dir, 'svid.pem'), svid.chain)
  writeFileSync(join(dir, 'svid_key.pem'), svid.key)
  writeFileSync(join(dir, 'svid_bundle.pem'), bundle)
}

function open(options: Parameters<typeof svidFiles>[0]): SvidSource {
  const source = svidFiles(options)
  sources.push(source)
  return source
}

function loadError(run: () => unknown): ZeroTrustError {
  try {
    run()
  } catch (error) {
    if (isZeroTrustError(error)) return error
    throw error
  }
  throw new Error('expected the load to fail')
}

/** Waits until `check` holds, polling; a generous bound for a loaded machine. */
async function until(check: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time')
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

/** Whether the SVID's key is its certificate's: the one thing a half-written rotation would break. */
function matches(svid: Svid): boolean {
  return new X509Certificate(svid.certificate).checkPrivateKey(createPrivateKey(svid.key))
}

describe('svidFiles: the first load', () => {
  it("loads spiffe-helper's svid.pem, svid_key.pem and svid_bundle.pem", () => {
    const dir = tempDir()
    writeSvid(dir, api)
    const current = open({ dir }).current()
    expect(current).toMatchObject({
      spiffeId: id('api'),
      trustDomain: td,
      key: api.key.trimEnd(),
      bundle: ca.bundle.trimEnd(),
      notAfter: new Date(Math.floor(api.notAfter.getTime() / 1000) * 1000),
      notBefore: new Date(Math.floor(api.notBefore.getTime() / 1000) * 1000),
    })
    expect(new X509Certificate(current.certificate).raw.equals(api.der)).toBe(true)
    expect(matches(current)).toBe(true)
  })

  it('takes other file names', () => {
    const dir = tempDir()
    writeFileSync(join(dir, 'tls.crt'), api.chain)
    writeFileSync(join(dir, 'tls.key'), api.key)
    writeFileSync(join(dir, 'ca.crt'), api.bundle)
    const source = open({ dir, certificateFile: 'tls.crt', keyFile: 'tls.key', bundleFile: 'ca.crt' })
    expect(source.current().spiffeId).toBe(id('api'))
  })

  it('verifies a chain through an intermediate, in the certificate file or in the bundle', async () => {
    const intermediate = await createTestCa({ trustDomain: td, parent: ca })
    const leaf = await issueSvid(intermediate, { spiffeId: id('orders') })
    const dir = tempDir()
    writeSvid(dir, leaf)
    expect(open({ dir }).current().spiffeId).toBe(id('orders'))
    // spiffe-helper's add_intermediates_to_bundle: the leaf alone, the intermediate beside the roots.
    const other = tempDir()
    writeFileSync(join(other, 'svid.pem'), leaf.certificate)
    writeFileSync(join(other, 'svid_key.pem'), leaf.key)
    writeFileSync(join(other, 'svid_bundle.pem'), ca.bundle + intermediate.certificate)
    expect(open({ dir: other }).current().spiffeId).toBe(id('orders'))
  })

  it('refuses an expired certificate, naming the file and the dates', async () => {
    const notBefore = new Date(Date.now() - 48 * hour)
    const notAfter = new Date(Date.now() - 24 * hour)
    const expired = await issueSvid(ca, { spiffeId: id('api'), notBefore, notAfter })
    const dir = tempDir()
    writeSvid(dir, expired)
    const error = loadError(() => svidFiles({ dir }))
    expect({ code: error.code, reason: error.reason }).toEqual({
      code: 'dependency_unavailable',
      reason: 'svid_expired',
    })
    expect(error.message).toContain(join(dir, 'svid.pem'))
    const seconds = (date: Date) => new Date(Math.floor(date.getTime() / 1000) * 1000).toISOString()
    expect(error.message).toContain(seconds(notAfter))
    expect(error.cause).toMatchObject({ file: join(dir, 'svid.pem'), notAfter: new Date(seconds(notAfter)) })
  })

  it('refuses a certificate that is not valid yet', async () => {
    const early = await issueSvid(ca, {
      spiffeId: id('api'),
      notBefore: new Date(Date.now() + hour),
      notAfter: new Date(Date.now() + 2 * hour),
    })
    const dir = tempDir()
    writeSvid(dir, early)
    expect(loadError(() => svidFiles({ dir })).reason).toBe('svid_not_yet_valid')
  })

  it('refuses a key that is not the certificate’s', async () => {
    const other = await issueSvid(ca, { spiffeId: id('api') })
    const dir = tempDir()
    writeSvid(dir, api)
    writeFileSync(join(dir, 'svid_key.pem'), other.key)
    const error = loadError(() => svidFiles({ dir }))
    expect(error.reason).toBe('svid_key_mismatch')
    expect(error.message).toContain(join(dir, 'svid_key.pem'))
  })

  it('refuses a certificate from a CA the bundle does not hold', async () => {
    const unknown = await createTestCa({ trustDomain: td })
    const rogue = await issueSvid(unknown, { spiffeId: id('api') })
    const dir = tempDir()
    writeSvid(dir, rogue, ca.bundle)
    expect(loadError(() => svidFiles({ dir })).reason).toBe('svid_untrusted')
  })

  it('refuses a certificate with two URI SANs, with none, or with a URI that is not a SPIFFE ID', async () => {
    const cases = [
      await issueSvid(ca, { spiffeId: id('a'), uris: [id('b')] }),
      await issueSvid(ca, { dns: ['api.internal'] }),
      await issueSvid(ca, { uris: ['https://api.example.com/'] }),
      await issueSvid(ca, { uris: ['spiffe://prod.example.com/a/../b'] }),
    ]
    for (const svid of cases) {
      const dir = tempDir()
      writeSvid(dir, svid)
      expect(loadError(() => svidFiles({ dir })).reason).toBe('svid_invalid')
    }
  })

  it('refuses a CA certificate as the leaf', async () => {
    const dir = tempDir()
    writeFileSync(join(dir, 'svid.pem'), ca.certificate)
    writeFileSync(join(dir, 'svid_key.pem'), ca.key)
    writeFileSync(join(dir, 'svid_bundle.pem'), ca.bundle)
    expect(loadError(() => svidFiles({ dir })).reason).toBe('svid_invalid')
  })

  it('refuses a missing file, a file without PEM, and a file over 1 MiB', () => {
    const dir = tempDir()
    expect(loadError(() => svidFiles({ dir })).reason).toBe('svid_unreadable')
    writeSvid(dir, api)
    writeFileSync(join(dir, 'svid_bundle.pem'), 'not a certificate')
    expect(loadError(() => svidFiles({ dir })).reason).toBe('svid_unreadable')
    writeFileSync(join(dir, 'svid_bundle.pem'), 'x'.repeat(1024 * 1024 + 1))
    expect(loadError(() => svidFiles({ dir })).message).toContain('larger than')
  })

  it('refuses option mistakes at construction, naming the option', () => {
    const dir = tempDir()
    writeSvid(dir, api)
    expect(() => svidFiles({ dir: '' })).toThrow(
      new TypeError('svidFiles: "dir" option must be a non-empty string'),
    )
    expect(() => svidFiles({ dir, keyFile: '../key.pem' })).toThrow(
      /^svidFiles: "keyFile" option must be a file name/,
    )
    expect(() => svidFiles({ dir, retries: -1 })).toThrow(/^svidFiles: "retries" option must be/)
    expect(() => svidFiles({ dir, bundleFile: 'svid.pem' })).toThrow(/three different files/)
    expect(() => svidFiles({ dir, watch: false } as never)).toThrow(
      'svidFiles: "watch" option is not recognized',
    )
  })
})

describe('svidFiles: rotation', () => {
  it('swaps in a new SVID when spiffe-helper writes one, and tells the listeners', async () => {
    const dir = tempDir()
    writeSvid(dir, api)
    const source = open({ dir, debounce: 20 })
    const seen: Svid[] = []
    source.onRotate((svid) => seen.push(svid))
    const next = await issueSvid(ca, { spiffeId: id('api') })
    writeSvid(dir, next)
    await until(() => seen.length > 0)
    expect(new X509Certificate(source.current().certificate).raw.equals(next.der)).toBe(true)
    expect(seen[0]).toBe(source.current())
    expect(matches(source.current())).toBe(true)
  })

  it('never serves half of a write: a certificate whose key is not written yet waits for it', async () => {
    const dir = tempDir()
    writeSvid(dir, api)
    const errors: Error[] = []
    const source = open({ dir, debounce: 10, retries: 20, retryDelay: 50, onError: (e) => errors.push(e) })
    const served: Svid[] = []
    source.onRotate((svid) => served.push(svid))
    const next = await issueSvid(ca, { spiffeId: id('api') })
    // The certificate lands first; the key follows after a few debounces and retries.
    writeFileSync(join(dir, 'svid.pem'), next.chain)
    const checks: boolean[] = []
    const deadline = Date.now() + 300
    while (Date.now() < deadline) {
      checks.push(matches(source.current()))
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
    writeFileSync(join(dir, 'svid_key.pem'), next.key)
    await until(() => served.length > 0)
    expect(checks.every(Boolean)).toBe(true)
    expect(served.every(matches)).toBe(true)
    expect(new X509Certificate(source.current().certificate).raw.equals(next.der)).toBe(true)
    expect(errors).toEqual([])
  })

  it('keeps the SVID in force and reports when the files still fail after every retry', async () => {
    const dir = tempDir()
    writeSvid(dir, api)
    const errors: Error[] = []
    const source = open({ dir, debounce: 10, retries: 2, retryDelay: 20, onError: (e) => errors.push(e) })
    const rotations: Svid[] = []
    source.onRotate((svid) => rotations.push(svid))
    const before = source.current()
    const other = await issueSvid(ca, { spiffeId: id('api') })
    writeFileSync(join(dir, 'svid_key.pem'), other.key)
    await until(() => errors.length > 0)
    expect(errors.map((e) => (e as ZeroTrustError).reason)).toContain('svid_key_mismatch')
    expect(source.current()).toBe(before)
    expect(rotations).toEqual([])
    // The helper finishes its write: the next change loads the whole set.
    writeFileSync(join(dir, 'svid.pem'), other.chain)
    await until(() => rotations.length > 0)
    expect(new X509Certificate(source.current().certificate).raw.equals(other.der)).toBe(true)
  })

  it('refuses a rotation to an expired certificate and keeps the one in force', async () => {
    const dir = tempDir()
    writeSvid(dir, api)
    const errors: Error[] = []
    const source = open({ dir, debounce: 10, retries: 1, retryDelay: 10, onError: (e) => errors.push(e) })
    const before = source.current()
    const expired = await issueSvid(ca, {
      spiffeId: id('api'),
      notBefore: new Date(Date.now() - 2 * hour),
      notAfter: new Date(Date.now() - hour),
    })
    writeSvid(dir, expired)
    await until(() => errors.length > 0)
    expect((errors[0] as ZeroTrustError).reason).toBe('svid_expired')
    expect(source.current()).toBe(before)
  })

  it('honours a new CA: a bundle with the new root, then a certificate it signed', async () => {
    const dir = tempDir()
    writeSvid(dir, api)
    const source = open({ dir, debounce: 10 })
    const seen: Svid[] = []
    source.onRotate((svid) => seen.push(svid))
    const newCa = await createTestCa({ trustDomain: td })
    // SPIRE publishes the new root beside the old one before it signs with it.
    writeFileSync(join(dir, 'svid_bundle.pem'), ca.bundle + newCa.bundle)
    await until(() => seen.length === 1)
    expect(source.current().bundle).toBe((ca.bundle + newCa.bundle).trimEnd())
    const next = await issueSvid(newCa, { spiffeId: id('api') })
    writeFileSync(join(dir, 'svid.pem'), next.chain)
    writeFileSync(join(dir, 'svid_key.pem'), next.key)
    await until(() => new X509Certificate(source.current().certificate).raw.equals(next.der))
    expect(matches(source.current())).toBe(true)
  })

  it('reports an SVID that expired while no new one was written', async () => {
    const dir = tempDir()
    const shortLived = await issueSvid(ca, { spiffeId: id('api'), notAfter: new Date(Date.now() + 1500) })
    writeSvid(dir, shortLived)
    const errors: Error[] = []
    open({ dir, pollInterval: 100, onError: (e) => errors.push(e) })
    await until(() => errors.length > 0)
    expect((errors[0] as ZeroTrustError).reason).toBe('svid_expired')
  })

  it('stops watching on close, and listeners can unsubscribe', async () => {
    const dir = tempDir()
    writeSvid(dir, api)
    const source = open({ dir, debounce: 10 })
    const kept: Svid[] = []
    const dropped: Svid[] = []
    source.onRotate((svid) => kept.push(svid))
    source.onRotate((svid) => dropped.push(svid))()
    const next = await issueSvid(ca, { spiffeId: id('api') })
    writeSvid(dir, next)
    await until(() => kept.length > 0)
    expect(dropped).toEqual([])
    source.close()
    const before = source.current()
    writeSvid(dir, await issueSvid(ca, { spiffeId: id('api') }))
    await new Promise((resolve) => setTimeout(resolve, 300))
    expect(source.current()).toBe(before)
  })

  it('reports a rotation listener that throws, and still tells the others', async () => {
    const dir = tempDir()
    writeSvid(dir, api)
    const errors: Error[] = []
    const source = open({ dir, debounce: 10, onError: (e) => errors.push(e) })
    const seen: Svid[] = []
    source.onRotate(() => {
      throw new Error('listener failed')
    })
    source.onRotate((svid) => seen.push(svid))
    writeSvid(dir, await issueSvid(ca, { spiffeId: id('api') }))
    await until(() => seen.length > 0)
    expect(errors.map((e) => e.message)).toEqual(['listener failed'])
  })
})
