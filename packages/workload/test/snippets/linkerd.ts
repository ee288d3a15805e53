import { workloadIdentity } from '@zerotrust/workload'

// Behind a Linkerd proxy: l5d-client-id names the meshed caller, such as
// checkout.shop.serviceaccount.identity.linkerd.cluster.local, read as
// spiffe://cluster.local/ns/shop/sa/checkout. The proxy connects to the app over loopback.
export const callers = workloadIdentity({
  trustDomains: ['cluster.local'],
  source: 'l5d',
  trustedHops: ['127.0.0.1', '::1'],
})
