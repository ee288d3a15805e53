import type { Adapter, AdapterFactory, AdapterPayload } from 'oidc-provider'

interface Entry {
  readonly payload: AdapterPayload
  /** Milliseconds since the epoch, or `Infinity`. */
  readonly expiresAt: number
}

/**
 * A storage adapter for one provider instance. oidc-provider's own in-memory adapter keeps one
 * module-wide store shared by every provider in the process (and warns on start); this one gives each
 * test authorization server its own store, dropped with it.
 */
export function memoryAdapter(): AdapterFactory {
  const entries = new Map<string, Entry>()
  const grants = new Map<string, Set<string>>()

  const read = (key: string): AdapterPayload | undefined => {
    const entry = entries.get(key)
    if (entry === undefined) return undefined
    if (entry.expiresAt <= Date.now()) {
      entries.delete(key)
      return undefined
    }
    return entry.payload
  }

  return (model: string): Adapter => {
    const keyFor = (id: string) => `${model}:${id}`
    const findBy = (index: 'userCode' | 'uid', value: string) => {
      for (const [key, entry] of entries) {
        if (key.startsWith(`${model}:`) && entry.payload[index] === value) return read(key)
      }
      return undefined
    }
    return {
      async upsert(id, payload, expiresIn) {
        const key = keyFor(id)
        const expiresAt = expiresIn === undefined ? Number.POSITIVE_INFINITY : Date.now() + expiresIn * 1000
        entries.set(key, { payload, expiresAt })
        if (typeof payload.grantId === 'string') {
          const members = grants.get(payload.grantId) ?? new Set<string>()
          members.add(key)
          grants.set(payload.grantId, members)
        }
      },
      async find(id) {
        return read(keyFor(id))
      },
      async findByUserCode(userCode) {
        return findBy('userCode', userCode)
      },
      async findByUid(uid) {
        return findBy('uid', uid)
      },
      async consume(id) {
        const key = keyFor(id)
        const entry = entries.get(key)
        if (entry !== undefined) {
          entries.set(key, {
            ...entry,
            payload: { ...entry.payload, consumed: Math.floor(Date.now() / 1000) },
          })
        }
      },
      async destroy(id) {
        entries.delete(keyFor(id))
      },
      async revokeByGrantId(grantId) {
        for (const key of grants.get(grantId) ?? []) entries.delete(key)
        grants.delete(grantId)
      },
    }
  }
}
