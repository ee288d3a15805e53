// The contained schema run behind loadSecrets (issue 12, item 1): whatever the schema does with a value,
// what comes out names secrets and zod issue codes only.
import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { runSchema } from './run-schema.js'

const marker = 'Zp4-marker'

describe('runSchema', () => {
  it('gives the parsed values when the schema passes', () => {
    const schema = z.object({
      PORT: z.coerce.number().int(),
      CONFIG: z.string().transform((t) => JSON.parse(t)),
    })
    expect(runSchema(schema, { PORT: '8443', CONFIG: '{"a":1}' })).toEqual({
      success: true,
      data: { PORT: 8443, CONFIG: { a: 1 } },
    })
  })

  it('turns an exception into a problem of the names whose own schema throws, and keeps no part of it', () => {
    const schema = z.object({
      CONFIG: z.string().transform((t) => JSON.parse(t)),
      SHORT: z.string().min(8),
      FINE: z.string(),
    })
    const result = runSchema(schema, { CONFIG: `{${marker}`, SHORT: marker.slice(0, 4), FINE: 'x' })
    expect(result).toEqual({
      success: false,
      problems: [
        { name: 'CONFIG', problem: 'exception' },
        { name: 'SHORT', problem: 'too_small: minimum 8' },
      ],
    })
    expect(JSON.stringify(result)).not.toContain(marker)
  })

  it('gives a problem of the object to an exception no single name explains, or a throwing error map', () => {
    const objectLevel = z.object({ A: z.string() }).superRefine(() => {
      throw new Error(marker)
    })
    expect(runSchema(objectLevel, { A: 'x' })).toEqual({
      success: false,
      problems: [{ name: undefined, problem: 'exception' }],
    })
    const throwingMessage = z.object({
      A: z.string().min(40, {
        error: () => {
          throw new Error(marker)
        },
      }),
    })
    expect(runSchema(throwingMessage, { A: 'x' })).toEqual({
      success: false,
      problems: [{ name: 'A', problem: 'exception' }],
    })
  })

  it('never takes a name, code or bound from what a refinement wrote into an issue', () => {
    const schema = z.object({ A: z.string() }).superRefine((values, ctx) => {
      ctx.addIssue({ code: 'custom', path: [values.A], message: values.A, input: values.A })
      ctx.addIssue({
        code: 'too_small',
        origin: 'string',
        minimum: values.A as never,
        path: ['A'],
        message: '',
      })
    })
    const result = runSchema(schema, { A: `value ${marker}` })
    expect(result).toEqual({
      success: false,
      problems: [
        { name: undefined, problem: 'custom' },
        { name: 'A', problem: 'too_small' },
      ],
    })
    expect(JSON.stringify(result)).not.toContain(marker)
  })
})
