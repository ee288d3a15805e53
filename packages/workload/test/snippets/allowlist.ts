import { workloadIdentity } from '@zerotrust/workload'

// Only these two services may call at all (403 workload_not_allowed for any other)…
export const fromCheckoutOrBilling = workloadIdentity({
  trustDomains: ['prod.example.com'],
  ids: ['spiffe://prod.example.com/ns/shop/sa/checkout', 'spiffe://prod.example.com/ns/shop/sa/billing'],
})

// …or any service account of the shop namespace, decided per request.
export const fromShop = workloadIdentity({
  trustDomains: ['prod.example.com'],
  match: (workload) => workload.path.startsWith('/ns/shop/sa/'),
})
