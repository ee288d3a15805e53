// Linkerd's `l5d-client-id`, read as a SPIFFE ID.

const marker = '.serviceaccount.identity.'
// A Kubernetes namespace is a DNS label; a service account name a DNS subdomain.
const maxLabel = 63
const maxSubdomain = 253

function isLabel(value: string, max: number, dots: boolean): boolean {
  if (value.length === 0 || value.length > max) return false
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i)
    const ok =
      (code >= 0x61 && code <= 0x7a) ||
      (code >= 0x30 && code <= 0x39) ||
      code === 0x2d ||
      (dots && code === 0x2e)
    if (!ok) return false
  }
  return true
}

/**
 * The SPIFFE ID of a Linkerd client identity: a value that already is one (`spiffe://…`, as Linkerd
 * sends for workloads with SPIFFE identities) as it is, and Linkerd's DNS-like name
 * `<serviceaccount>.<namespace>.serviceaccount.identity.<control plane namespace>.<trust domain>` as
 * `spiffe://<trust domain>/ns/<namespace>/sa/<serviceaccount>`, the shape Istio and SPIRE's Kubernetes
 * workload registrar give the same service account. `undefined` for anything else; the result is still
 * to be checked as a SPIFFE ID (the trust domain's characters, the length).
 *
 * @example
 * linkerdSpiffeId('checkout.shop.serviceaccount.identity.linkerd.cluster.local')
 * // 'spiffe://cluster.local/ns/shop/sa/checkout'
 */
export function linkerdSpiffeId(identity: string): string | undefined {
  if (identity.startsWith('spiffe://')) return identity
  const at = identity.indexOf(marker)
  if (at === -1) return undefined
  const account = identity.slice(0, at)
  const dot = account.lastIndexOf('.')
  if (dot === -1) return undefined
  const serviceAccount = account.slice(0, dot)
  const namespace = account.slice(dot + 1)
  const rest = identity.slice(at + marker.length)
  const next = rest.indexOf('.')
  if (next === -1) return undefined
  const controlPlane = rest.slice(0, next)
  const trustDomain = rest.slice(next + 1)
  if (
    !isLabel(serviceAccount, maxSubdomain, true) ||
    !isLabel(namespace, maxLabel, false) ||
    !isLabel(controlPlane, maxLabel, false) ||
    trustDomain.length === 0
  ) {
    return undefined
  }
  return `spiffe://${trustDomain}/ns/${namespace}/sa/${serviceAccount}`
}
