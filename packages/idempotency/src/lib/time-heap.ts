/** A place in a {@link TimeHeap}: the value, its time, and where it sits (-1 once removed). */
export interface Slot<T> {
  readonly value: T
  at: number
  /** Ties of `at` go in the order values were pushed or rescheduled. */
  seq: number
  index: number
}

function before<T>(a: Slot<T>, b: Slot<T>): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq)
}

/**
 * A binary min-heap of values by time: the soonest is read in O(1), a value is added, removed or given
 * another time in O(log n) through the slot it was added with. Values of the same time come out first in,
 * first out. The memory idempotency store orders its
 * locks by expiry and its responses by when they may be evicted with it, whatever order they came in.
 *
 * @example
 * const locks = new TimeHeap<string>()
 * const slot = locks.push('order-1', Date.now() + 30_000)
 * locks.remove(slot)
 */
export class TimeHeap<T> {
  readonly #slots: Slot<T>[] = []
  #seq = 0

  /** How many values the heap holds. */
  get size(): number {
    return this.#slots.length
  }

  /** The slot of the soonest value, or `undefined` when the heap is empty. */
  peek(): Slot<T> | undefined {
    return this.#slots[0]
  }

  /** Adds `value` at time `at`; the slot removes or reschedules it later. */
  push(value: T, at: number): Slot<T> {
    const slot: Slot<T> = { value, at, seq: this.#seq++, index: this.#slots.length }
    this.#slots.push(slot)
    this.#up(slot.index)
    return slot
  }

  /** Removes the value of `slot`; a slot already removed is left alone. */
  remove(slot: Slot<T>): void {
    const { index } = slot
    if (index < 0 || this.#slots[index] !== slot) return
    const last = this.#slots.pop() as Slot<T>
    slot.index = -1
    if (last === slot) return
    this.#slots[index] = last
    last.index = index
    this.#down(index)
    this.#up(last.index)
  }

  /** Gives the value of `slot` the time `at`. */
  reschedule(slot: Slot<T>, at: number): void {
    if (slot.index < 0 || this.#slots[slot.index] !== slot) return
    slot.at = at
    slot.seq = this.#seq++
    this.#down(slot.index)
    this.#up(slot.index)
  }

  #up(index: number): void {
    const slots = this.#slots
    const slot = slots[index] as Slot<T>
    while (index > 0) {
      const parentIndex = (index - 1) >> 1
      const parent = slots[parentIndex] as Slot<T>
      if (!before(slot, parent)) break
      slots[index] = parent
      parent.index = index
      index = parentIndex
    }
    slots[index] = slot
    slot.index = index
  }

  #down(index: number): void {
    const slots = this.#slots
    const slot = slots[index] as Slot<T>
    const half = slots.length >> 1
    while (index < half) {
      let childIndex = 2 * index + 1
      let child = slots[childIndex] as Slot<T>
      const right = slots[childIndex + 1]
      if (right !== undefined && before(right, child)) {
        childIndex += 1
        child = right
      }
      if (!before(child, slot)) break
      slots[index] = child
      child.index = index
      index = childIndex
    }
    slots[index] = slot
    slot.index = index
  }
}
