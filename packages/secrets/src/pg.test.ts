// Option checks only: they need no database. test/vault-database.test.ts runs the pool on PostgreSQL.
import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { databaseCredentials, loadSecrets, type SecretSource } from './index.js'
import { redactedCredentials } from './lib/credentials.js'
import { rotatingPool } from './pg.js'

const source: SecretSource = {
  label: 'memory',
  read: async () => new Map([['DB', redactedCredentials('orders', 'orders-password-0123456789')]]),
}

describe('rotatingPool', () => {
  it('refuses a login of its own, naming the option, and a secret that is not one', async () => {
    const secrets = await loadSecrets({ schema: z.object({ DB: databaseCredentials }), sources: [source] })
    for (const option of ['user', 'password', 'connectionString'] as const) {
      expect(() => rotatingPool(secrets.DB, { [option]: 'x' } as never)).toThrow(
        new TypeError(`rotatingPool: "${option}" option must not be set: the login comes from the secret`),
      )
    }
    expect(() => rotatingPool(secrets.DB, { onError: 'log' } as never)).toThrow(
      new TypeError('rotatingPool: "onError" option must be a function'),
    )
    expect(() => rotatingPool({ username: 'orders', password: 'x' } as never)).toThrow(
      new TypeError('rotatingPool: "secret" argument must be a Secret of database credentials'),
    )
    const db = rotatingPool(secrets.DB, { host: '127.0.0.1', max: 2 })
    await db.end()
    await expect(db.query('select 1')).rejects.toThrow('rotatingPool: the pool has ended')
    await secrets.close()
  })
})
