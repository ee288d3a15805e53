// What the fleet tests of @zerotrust/exchange share: a PKI of SVIDs, SVID directories as spiffe-helper
// writes them, a secret volume as the kubelet writes it, and an https client presenting an SVID.
import { mkdirSync, mkdtempSync, readlinkSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { request } from 'node:https'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createTestCa, issueSvid, type TestSvid } from '@zerotrust/testkit/ca'

export const trustDomain = 'prod.example.com'
export const idOf = (name: string) => `spiffe://${trustDomain}/ns/shop/sa/${name}`

export interface Pki {
  readonly bundle: string
  readonly edge: TestSvid
  readonly orders: TestSvid
  readonly billing: TestSvid
  /** Another workload of the same trust domain: trusted to call, but not the one a token is bound to. */
  readonly intruder: TestSvid
}

export async function createPki(): Promise<Pki> {
  const ca = await createTestCa({ trustDomain })
  const svid = (name: string) =>
    issueSvid(ca, { spiffeId: idOf(name), ips: ['127.0.0.1'], dns: ['localhost'] })
  return {
    bundle: ca.bundle,
    edge: await svid('edge'),
    orders: await svid('orders'),
    billing: await svid('billing'),
    intruder: await svid('intruder'),
  }
}

/** A directory as spiffe-helper writes it (svid.pem, svid_key.pem, svid_bundle.pem). */
export function svidDirectory(svid: TestSvid, bundle: string) {
  const dir = mkdtempSync(join(tmpdir(), 'zerotrust-exchange-svid-'))
  writeFileSync(join(dir, 'svid.pem'), svid.chain)
  writeFileSync(join(dir, 'svid_key.pem'), svid.key)
  writeFileSync(join(dir, 'svid_bundle.pem'), bundle)
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) }
}

let generation = 0

/**
 * A directory laid out as the kubelet lays out a secret volume: each generation in its own directory,
 * `..data` pointing at it, swapped by one atomic rename; `KEY -> ..data/KEY`.
 */
export function secretVolume(values: Record<string, string>) {
  const dir = mkdtempSync(join(tmpdir(), 'zerotrust-exchange-secrets-'))
  const write = (next: Record<string, string>) => {
    generation += 1
    const name = `..generation_${String(generation).padStart(6, '0')}`
    mkdirSync(join(dir, name))
    for (const [key, value] of Object.entries(next)) writeFileSync(join(dir, name, key), value)
    let previous: string | undefined
    try {
      previous = readlinkSync(join(dir, '..data'))
    } catch {
      previous = undefined
    }
    symlinkSync(name, join(dir, '..data_tmp'))
    renameSync(join(dir, '..data_tmp'), join(dir, '..data'))
    for (const key of Object.keys(next)) {
      try {
        symlinkSync(join('..data', key), join(dir, key))
      } catch {
        // The link exists from an earlier generation and already points through `..data`.
      }
    }
    if (previous !== undefined) rmSync(join(dir, previous), { recursive: true, force: true })
  }
  write(values)
  return { dir, write, remove: () => rmSync(dir, { recursive: true, force: true }) }
}

export interface Answer {
  readonly status: number
  readonly headers: Record<string, string | string[] | undefined>
  readonly body: string
}

/** A GET over mutual TLS presenting `svid`, trusting `bundle`. */
export function mtlsGet(
  url: string,
  svid: { readonly certificate: string; readonly key: string },
  bundle: string,
  headers: Record<string, string> = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method: 'GET', cert: svid.certificate, key: svid.key, ca: bundle, headers, agent: false },
      (res) => {
        const chunks: Buffer[] = []
        res.on('data', (chunk: Buffer) => chunks.push(chunk))
        res.on('error', reject)
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString('utf8'),
          }),
        )
      },
    )
    req.on('error', reject)
    req.end()
  })
}
