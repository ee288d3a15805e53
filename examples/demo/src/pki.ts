// The fleet's identities: one CA for the trust domain, an X.509-SVID per service written to a directory as
// spiffe-helper writes it (svid.pem, svid_key.pem, svid_bundle.pem), and what an outsider holds.
import { mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createTestCa, issueSvid, type TestCa, type TestSvid } from '@zerotrust/testkit/ca'

/** The fleet's trust domain: every service's SPIFFE ID is in it. */
export const trustDomain = 'shop.example.com'
/** A trust domain the fleet does not trust: its CA is in no service's bundle. */
export const foreignTrustDomain = 'partner.example.net'

/** The SPIFFE ID of a service account of the shop namespace. */
export const spiffeIdOf = (name: string): string => `spiffe://${trustDomain}/ns/shop/sa/${name}`

export const ids = {
  edge: spiffeIdOf('edge'),
  orders: spiffeIdOf('orders'),
  billing: spiffeIdOf('billing'),
  /** A workload of the fleet that no service lets call orders or billing. */
  reports: spiffeIdOf('reports'),
  foreign: `spiffe://${foreignTrustDomain}/ns/default/sa/scraper`,
} as const

/** An SVID directory that a service reads with `svidFiles()` and that {@link rotate} rewrites. */
export interface SvidDirectory {
  readonly dir: string
  readonly spiffeId: string
}

/** What the demo generates at start: the CA, one SVID directory per service, outsiders' SVIDs. */
export interface Pki {
  readonly ca: TestCa
  readonly root: string
  readonly edge: SvidDirectory
  readonly orders: SvidDirectory
  readonly billing: SvidDirectory
  /** SVIDs the scripted client holds to play someone else: reports (same trust domain), a foreign one. */
  readonly reports: TestSvid
  readonly foreign: TestSvid
  /** The foreign trust domain's CA bundle. */
  readonly foreignBundle: string
  /** The edge's current SVID, as the scripted client reads it to play a compromised edge host. */
  readonly edgeSvid: () => TestSvid
  /** Issues a new SVID for a service and writes it as spiffe-helper would: a rotation. */
  rotate(service: 'edge' | 'orders' | 'billing'): Promise<TestSvid>
  /** Deletes the directories. */
  remove(): void
}

const issue = (ca: TestCa, spiffeId: string) =>
  issueSvid(ca, { spiffeId, ips: ['127.0.0.1'], dns: ['localhost'] })

/**
 * Creates the CA of {@link trustDomain} (valid for the run only), an SVID for each service written under
 * a fresh temporary directory, the SVID of `reports` and the SVID of a workload of another trust domain
 * signed by that domain's own CA.
 */
export async function createPki(): Promise<Pki> {
  const ca = await createTestCa({ trustDomain })
  const foreignCa = await createTestCa({ trustDomain: foreignTrustDomain })
  const root = mkdtempSync(join(tmpdir(), 'zerotrust-demo-svid-'))
  const current = new Map<string, TestSvid>()

  const write = (service: string, svid: TestSvid): void => {
    const dir = join(root, service)
    // spiffe-helper writes each file in place; a rename keeps a reader from seeing half a file.
    for (const [file, text] of [
      ['svid.pem', svid.chain],
      ['svid_key.pem', svid.key],
      ['svid_bundle.pem', ca.bundle],
    ] as const) {
      const temporary = join(root, `.${service}-${file}.tmp`)
      writeFileSync(temporary, text, { mode: 0o600 })
      renameSync(temporary, join(dir, file))
    }
    current.set(service, svid)
  }
  const directory = async (service: 'edge' | 'orders' | 'billing'): Promise<SvidDirectory> => {
    const dir = join(root, service)
    mkdirSync(dir)
    write(service, await issue(ca, ids[service]))
    return { dir, spiffeId: ids[service] }
  }

  const edge = await directory('edge')
  const orders = await directory('orders')
  const billing = await directory('billing')
  return {
    ca,
    root,
    edge,
    orders,
    billing,
    reports: await issue(ca, ids.reports),
    foreign: await issue(foreignCa, ids.foreign),
    foreignBundle: foreignCa.bundle,
    edgeSvid: () => current.get('edge') as TestSvid,
    async rotate(service) {
      const next = await issue(ca, ids[service])
      write(service, next)
      return next
    },
    remove: () => rmSync(root, { recursive: true, force: true }),
  }
}
