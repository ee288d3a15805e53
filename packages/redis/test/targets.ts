// The Redis deployments the store suites run against: the shared standalone Redis on 6379, and a Redis
// Cluster of three primaries and three replicas the suite starts itself (issue 22). A suite reaches
// either through the same `connect`, so every test of a store runs on both unchanged.
import { redisHost, redisPort, skipWithoutRedis } from '@zerotrust/testkit/redis'
import {
  type RedisCluster,
  skipWithoutRedisBinaries,
  startRedisCluster,
} from '@zerotrust/testkit/redis-cluster'
import { type Cluster, Redis } from 'ioredis'

/** Client settings a test varies: the stores must work with any of them. */
export interface ClientSettings {
  readonly enableOfflineQueue?: boolean
  readonly protocol?: 2 | 3
  readonly stringNumbers?: boolean
  readonly replyMapping?: 'resp3'
}

/** One deployment, opened for a suite. */
export interface Target {
  /** A new client that fails fast (one retry), with `settings`. */
  connect(settings?: ClientSettings): Redis | Cluster
  close(): Promise<void>
}

/** A deployment a suite may run against, and whether it skips here. */
export interface TargetKind {
  readonly name: string
  readonly skip: boolean
  open(): Promise<Target>
}

/** The standalone Redis on 127.0.0.1:6379, and a Redis Cluster started on loopback for the suite. */
export async function targets(): Promise<TargetKind[]> {
  return [
    {
      name: 'the real Redis',
      skip: await skipWithoutRedis(),
      async open() {
        return {
          connect: (settings = {}) =>
            new Redis({ host: redisHost, port: redisPort, maxRetriesPerRequest: 1, ...settings }),
          close: async () => {},
        }
      },
    },
    {
      name: 'a Redis Cluster (issue 22)',
      skip: skipWithoutRedisBinaries('the redis cluster tests'),
      async open() {
        const cluster = await startRedisCluster()
        return clusterTarget(cluster)
      },
    },
  ]
}

function clusterTarget(cluster: RedisCluster): Target {
  const clients: Cluster[] = []
  return {
    connect(settings = {}) {
      const { enableOfflineQueue, ...redisOptions } = settings
      const client = cluster.client({
        ...(enableOfflineQueue === undefined ? {} : { enableOfflineQueue }),
        redisOptions: { maxRetriesPerRequest: 1, ...redisOptions },
      })
      clients.push(client)
      return client
    },
    async close() {
      for (const client of clients) client.disconnect()
      await cluster.stop()
    },
  }
}
