import { unavailable } from './translate-error.js'

/** Bounds of {@link Limiter}. */
export interface LimiterSettings {
  /** Most calls running at once. */
  readonly maxConcurrent: number
  /** Most calls waiting for a slot; 0 refuses at once when every slot is taken. */
  readonly maxQueued: number
  /** Milliseconds a call may wait for a slot before it is refused. */
  readonly maxWait: number
}

interface Waiter {
  start(): void
}

/**
 * A bound on the introspections in flight, with a bounded first-in first-out queue behind it: a flood
 * of distinct tokens costs the authorization server at most `maxConcurrent` calls at a time, and what
 * neither runs nor fits the queue, or waits longer than `maxWait`, is refused with 503
 * `introspection_overloaded` (never a 401: the token may be good, and never an allow).
 */
export class Limiter {
  readonly #settings: LimiterSettings
  readonly #queue = new Set<Waiter>()
  #running = 0

  constructor(settings: LimiterSettings) {
    this.#settings = settings
  }

  /** Calls running now. */
  get running(): number {
    return this.#running
  }

  /** Calls waiting for a slot now. */
  get queued(): number {
    return this.#queue.size
  }

  /** Runs `work` in a free slot, or after waiting for one, or rejects with 503 when it cannot. */
  run<T>(work: () => Promise<T>): Promise<T> {
    if (this.#running < this.#settings.maxConcurrent) return this.#start(work)
    if (this.#queue.size >= this.#settings.maxQueued) return Promise.reject(overloaded())
    return new Promise<T>((resolve, reject) => {
      const waiter: Waiter = {
        start: () => {
          clearTimeout(timer)
          this.#start(work).then(resolve, reject)
        },
      }
      // Queued work must not wait forever behind calls that keep the slots busy.
      const timer = setTimeout(() => {
        this.#queue.delete(waiter)
        reject(overloaded())
      }, this.#settings.maxWait)
      this.#queue.add(waiter)
    })
  }

  #start<T>(work: () => Promise<T>): Promise<T> {
    this.#running++
    let result: Promise<T>
    try {
      result = work()
    } catch (error) {
      result = Promise.reject(error)
    }
    const release = () => {
      this.#running--
      // A Set iterates in insertion order: the oldest waiter goes first.
      const next = this.#queue.values().next()
      if (next.done === true) return
      this.#queue.delete(next.value)
      next.value.start()
    }
    // The caller handles the outcome; this branch only frees the slot.
    result.then(release, release)
    return result
  }
}

function overloaded() {
  return unavailable('introspection_overloaded')
}
