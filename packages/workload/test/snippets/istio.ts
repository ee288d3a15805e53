import { workloadIdentity } from '@zerotrust/workload'

// Behind an Istio sidecar: the proxy verified the caller's certificate and says so in
// x-forwarded-client-cert. Only the sidecar may say it: since Istio 1.10 it connects to the app from
// 127.0.0.6. `self` is this service's own SPIFFE ID, which the element the sidecar appended names in By.
export const callers = workloadIdentity({
  trustDomains: ['cluster.local'],
  source: 'xfcc',
  trustedHops: ['127.0.0.6'],
  self: 'spiffe://cluster.local/ns/shop/sa/orders',
})
