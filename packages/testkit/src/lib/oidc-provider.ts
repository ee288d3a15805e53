type OidcProviderModule = typeof import('oidc-provider')

let loading: Promise<OidcProviderModule> | undefined

/**
 * Imports oidc-provider once, without its "unsupported runtime" warning: the package asks for Node 22
 * LTS but works on Node 20 for what the testkit uses. Every other warning still gets through.
 */
export function loadOidcProvider(): Promise<OidcProviderModule> {
  loading ??= quietly(() => import('oidc-provider'))
  return loading
}

async function quietly<T>(load: () => Promise<T>): Promise<T> {
  const warn = console.warn
  console.warn = (...args: unknown[]) => {
    if (typeof args[0] === 'string' && args[0].includes('oidc-provider WARNING: Unsupported runtime')) return
    warn.apply(console, args)
  }
  try {
    return await load()
  } finally {
    console.warn = warn
  }
}
