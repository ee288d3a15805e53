import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { type Slot, TimeHeap } from './time-heap.js'

describe('TimeHeap', () => {
  it('gives the soonest value first, ties first in first out, through any mix of pushes, removals and new times', () => {
    const operation = fc.oneof(
      fc.record({ op: fc.constant('push' as const), at: fc.integer({ min: 0, max: 50 }) }),
      fc.record({ op: fc.constant('remove' as const), pick: fc.nat() }),
      fc.record({
        op: fc.constant('reschedule' as const),
        pick: fc.nat(),
        at: fc.integer({ min: 0, max: 50 }),
      }),
    )
    fc.assert(
      fc.property(fc.array(operation, { maxLength: 200 }), (operations) => {
        const heap = new TimeHeap<number>()
        const live = new Map<number, Slot<number>>()
        let next = 0
        for (const step of operations) {
          if (step.op === 'push') {
            live.set(next, heap.push(next, step.at))
            next += 1
          } else if (live.size > 0) {
            const id = [...live.keys()][step.pick % live.size] as number
            const slot = live.get(id) as Slot<number>
            if (step.op === 'remove') {
              heap.remove(slot)
              heap.remove(slot)
              live.delete(id)
            } else {
              heap.reschedule(slot, step.at)
            }
          }
          expect(heap.size).toBe(live.size)
          // The soonest, and of those the first pushed or rescheduled.
          let soonest: Slot<number> | undefined
          for (const slot of live.values()) {
            if (
              soonest === undefined ||
              slot.at < soonest.at ||
              (slot.at === soonest.at && slot.seq < soonest.seq)
            ) {
              soonest = slot
            }
          }
          expect(heap.peek()).toBe(soonest)
        }
      }),
    )
  })
})
