import { describe, expect, it } from 'vitest'
import { dpopSettings } from './options.js'

const secret = 'n'.repeat(32)

describe('dpopSettings: durations in seconds say so in their names (issue 13)', () => {
  it('reads the new names', () => {
    const settings = dpopSettings({
      maxProofAgeSeconds: 30,
      clockToleranceSeconds: 2,
      nonce: { secret, lifetimeSeconds: 120 },
    })
    expect(settings).toMatchObject({ maxProofAge: 30, clockTolerance: 2, nonce: { lifetime: 120 } })
  })

  it('keeps the deprecated names working, with the same bounds', () => {
    const settings = dpopSettings({ maxProofAge: 30, clockTolerance: 2, nonce: { secret, lifetime: 120 } })
    expect(settings).toMatchObject({ maxProofAge: 30, clockTolerance: 2, nonce: { lifetime: 120 } })
    expect(() => dpopSettings({ maxProofAge: 301 })).toThrow(TypeError)
  })

  it('refuses an option set under both names, since one would be ignored', () => {
    expect(() => dpopSettings({ maxProofAge: 30, maxProofAgeSeconds: 30 })).toThrow(
      new TypeError(
        'dpop: "maxProofAge" option is the deprecated name of "maxProofAgeSeconds": set only one',
      ),
    )
    expect(() => dpopSettings({ clockTolerance: 1, clockToleranceSeconds: 1 })).toThrow(
      /^dpop: "clockTolerance" option is the deprecated name/,
    )
    expect(() => dpopSettings({ nonce: { secret, lifetime: 60, lifetimeSeconds: 60 } })).toThrow(
      /^dpop: "nonce\.lifetime" option is the deprecated name of "lifetimeSeconds"/,
    )
  })

  it('fills in the defaults, and says a missing options object is not one', () => {
    expect(dpopSettings({})).toMatchObject({ maxProofAge: 60, clockTolerance: 5, nonce: undefined })
    expect(() => dpopSettings(null)).toThrow(new TypeError('dpop: options must be an object'))
  })
})
