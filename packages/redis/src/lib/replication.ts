import { ZeroTrustError } from '@zerotrust/core'
import type { ChainableCommander } from 'ioredis'
import { send } from './deadline.js'

// Redis replicates asynchronously: a primary answers a write before any replica has it, and a primary
// that dies in that window takes the write with it when a replica is promoted. `WAIT <n> <ms>`, sent
// right after the write on the same connection (so to the same Cluster node, which is what WAIT counts
// for), answers how many replicas acknowledged it. It narrows the window to what a replica that holds
// the write can lose; it does not make Redis strongly consistent (see the README).

/** Where the stores wait for replicas: how many must acknowledge a write, and for how long. */
export interface Replication {
  readonly waitForReplicas: number
  readonly replicaTimeout: number
}

/** A client that can pipeline: ioredis `Redis` and `Cluster` both can; a `Cluster` refreshes its slots. */
export interface PipelineClient {
  pipeline(): ChainableCommander
  refreshSlotsCache?(callback?: (error?: Error | null) => void): void
}

/**
 * Runs `write` and `WAIT` in one pipeline (one round trip, one node), under the operation deadline.
 * Answers the write's reply and how many replicas acknowledged it; an error of the write rejects as
 * `send` does.
 */
export function writeAndWait(
  client: PipelineClient,
  write: (pipeline: ChainableCommander) => ChainableCommander,
  replication: Replication,
  operationTimeout: number,
): Promise<{ reply: unknown; acknowledged: number }> {
  return send(async () => {
    // At most two tries: a second only after a MOVED, which says the write did not run.
    for (let attempt = 0; ; attempt++) {
      const replies = await write(client.pipeline())
        .wait(replication.waitForReplicas, replication.replicaTimeout)
        .exec()
      const [written, waited] = replies ?? []
      if (written === undefined || waited === undefined) throw new Error('the pipeline answered nothing')
      const [error, reply] = written
      if (error !== null) {
        // ioredis follows a Cluster's MOVED for a pipeline only when every command of it got one; the
        // WAIT beside the write answers wherever it lands, so after a failover the pipeline would keep
        // going to the old node. The slots are read again and the write sent where it belongs.
        if (attempt === 0 && isMoved(error) && client.refreshSlotsCache !== undefined) {
          await refreshSlots(client.refreshSlotsCache.bind(client))
          continue
        }
        throw error
      }
      const acknowledged = waited[0] === null ? Number(waited[1]) : 0
      return { reply, acknowledged: Number.isSafeInteger(acknowledged) ? acknowledged : 0 }
    }
  }, operationTimeout)
}

function isMoved(error: Error): boolean {
  return error.message.startsWith('MOVED ')
}

function refreshSlots(refresh: (callback: (error?: Error | null) => void) => void): Promise<void> {
  return new Promise((resolve, reject) => refresh((error) => (error ? reject(error) : resolve())))
}

/**
 * The error of a write fewer replicas acknowledged than `waitForReplicas` within `replicaTimeout`: the
 * write is on the primary and may be lost in a failover, so the caller is answered 503, as for any
 * store failure.
 */
export function notReplicated(): ZeroTrustError {
  return new ZeroTrustError('dependency_unavailable', 'redis did not replicate the write in time', {
    reason: 'redis_not_replicated',
  })
}
