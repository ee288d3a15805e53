import { rateLimit } from '@zerotrust/ratelimit'

// One budget per tenant rather than per user; requests without a tenant claim share the anonymous one.
export const perTenant = rateLimit({
  budgets: [{ name: 'tenant', limit: 1000, windowSeconds: 60 }],
  key: (_req, auth) => (typeof auth.claims.tenant === 'string' ? `tenant:${auth.claims.tenant}` : undefined),
  // Anonymous requests (none here) would each count by their peer address rather than in one budget.
  anonymous: 'peer',
})
