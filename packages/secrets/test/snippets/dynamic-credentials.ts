import { databaseCredentials, loadSecrets, vaultDatabase } from '@zerotrust/secrets'
import { rotatingPool } from '@zerotrust/secrets/pg'
import { z } from 'zod'

const secrets = await loadSecrets({
  schema: z.object({ DB: databaseCredentials }),
  sources: [
    // GET database/creds/orders-app, logged in with the pod's service account.
    vaultDatabase({
      address: 'https://vault.internal:8200',
      kubernetes: { role: 'orders' },
      role: 'orders-app',
      name: 'DB',
    }),
  ],
})

// New connections log in with the newest credentials; the old pool drains, then its lease is revoked.
const db = rotatingPool(secrets.DB, { host: 'postgres.internal', database: 'orders', max: 10 })

export async function ordersOf(owner: string) {
  const { rows } = await db.query<{ id: string; total: number }>(
    'select id, total from orders where owner = $1',
    [owner],
  )
  return rows
}

export async function shutdown() {
  await db.end() // every pool closes once its queries are done
  await secrets.close() // every lease is revoked: Vault drops the database roles
}
