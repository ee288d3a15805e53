import { type Schema, schemaToJson } from '@cedar-policy/cedar-wasm/nodejs'
import type { EntityRef } from './options.js'
import { CedarPolicyError, type PolicyProblem, type SchemaInput } from './sources.js'

/** The attributes of `context.token` the default context can set. */
export type TokenAttribute = 'scheme' | 'format'

/** The attributes of `context.workload` the default context can set. */
export type WorkloadAttribute = 'id' | 'trustDomain' | 'path' | 'proof'

/** Which default attributes the context of one action's requests carries. */
export interface ContextPlan {
  readonly scopes: boolean
  /** The attributes of `token`; `undefined`: no `token`. */
  readonly token: readonly TokenAttribute[] | undefined
  readonly clientId: boolean
  readonly time: boolean
  readonly mtls: boolean
  /**
   * The attributes of `workload` (of `id`, `trustDomain`, `path`, `proof`, strings), set when the request
   * proved a workload; `undefined`: no `workload`.
   */
  readonly workload: readonly WorkloadAttribute[] | undefined
  /** `true`: every route parameter; a list: those parameters only; `undefined`: no `params`. */
  readonly params: true | readonly string[] | undefined
}

/** The default context of every action, from a schema or without one. */
export interface ContextPlans {
  /** The plan of an action; an action the schema does not declare gets no default attribute. */
  forAction(action: EntityRef): ContextPlan
  /** Whether the context of some action carries `time` (a decision cache then stays off by default). */
  readonly time: boolean
  /** Equal keys mean equal plans: a reload that keeps the schema keeps the plans. */
  readonly key: string
}

const bothTokenAttributes: readonly TokenAttribute[] = Object.freeze(['scheme', 'format'])
const allWorkloadAttributes: readonly WorkloadAttribute[] = Object.freeze([
  'id',
  'trustDomain',
  'path',
  'proof',
])

const none: ContextPlan = Object.freeze({
  scopes: false,
  token: undefined,
  clientId: false,
  time: false,
  mtls: false,
  workload: undefined,
  params: undefined,
})

/**
 * The default context of each action. Without a schema every request carries every default attribute
 * (`time` as the option says). With one, an action's requests carry only the default attributes its
 * declared context names, with the declared type: a schema is the contract of the context, and an
 * attribute it does not declare makes the engine refuse the request (`invalid_request`) for every
 * request of that action. A declared attribute whose type differs from what the default context sets is
 * found here, at construction or reload, instead of denying every request at run time.
 *
 * @throws CedarPolicyError listing each default attribute the schema declares with another type
 */
export function contextPlans(
  schema: SchemaInput | undefined,
  options: { readonly defaultContext: boolean; readonly time: boolean },
): ContextPlans {
  if (!options.defaultContext) return fixedPlans(none, 'none')
  if (schema === undefined) return fixedPlans(all(options.time), `all:${options.time}`)
  const answer = schemaToJson(schema as Schema)
  if (answer.type === 'failure') {
    throw new CedarPolicyError(answer.errors.map((error) => ({ file: 'schema', message: error.message })))
  }
  const types = new SchemaTypes(answer.json as unknown as SchemaJson)
  const problems: PolicyProblem[] = []
  const byType = new Map<string, Map<string, ContextPlan>>()
  let time = false
  for (const [namespace, definition] of Object.entries(types.json)) {
    const actionType = namespace === '' ? 'Action' : `${namespace}::Action`
    const plans = new Map<string, ContextPlan>()
    byType.set(actionType, plans)
    for (const [id, action] of Object.entries(definition.actions ?? {})) {
      // An action without `appliesTo` takes no request; one without a context has an empty one.
      const declared = action.appliesTo?.context
      if (declared === undefined) continue
      const where = `action ${actionType}::${JSON.stringify(id)}`
      const shape = types.resolve(declared, namespace)
      // A context the engine would refuse as no record takes no request either; one this module cannot
      // resolve gets every default attribute, for the engine to check.
      if (shape.kind !== 'Record' && shape.kind !== 'Unknown') continue
      const plan = shape.kind === 'Record' ? planFor(shape, where, options.time, problems) : all(options.time)
      time ||= plan.time
      plans.set(id, plan)
    }
  }
  if (problems.length > 0) throw new CedarPolicyError(problems)
  return Object.freeze({
    forAction: (action: EntityRef) => byType.get(action.type)?.get(action.id) ?? none,
    time,
    key: `schema:${typeof schema === 'string' ? schema : JSON.stringify(schema)}:${options.time}`,
  })
}

function all(time: boolean): ContextPlan {
  return Object.freeze({
    scopes: true,
    token: bothTokenAttributes,
    clientId: true,
    time,
    mtls: true,
    workload: allWorkloadAttributes,
    params: true,
  })
}

function fixedPlans(plan: ContextPlan, key: string): ContextPlans {
  return Object.freeze({ forAction: () => plan, time: plan.time, key })
}

/** The resolved type of a schema attribute. */
type Shape =
  | { readonly kind: 'String' | 'Long' | 'Bool' }
  | { readonly kind: 'Set'; readonly element: Shape }
  | {
      readonly kind: 'Record'
      readonly attributes: ReadonlyMap<string, { readonly shape: Shape; readonly required: boolean }>
    }
  | { readonly kind: 'Entity' | 'Extension'; readonly name: string }
  // A name this module cannot resolve: the attribute is carried and the engine checks it.
  | { readonly kind: 'Unknown'; readonly name: string }

const string: Shape = { kind: 'String' }
const long: Shape = { kind: 'Long' }
const bool: Shape = { kind: 'Bool' }
const setOfStrings: Shape = { kind: 'Set', element: string }

function planFor(
  context: Extract<Shape, { kind: 'Record' }>,
  where: string,
  timeOption: boolean,
  problems: PolicyProblem[],
): ContextPlan {
  const attribute = (name: string) => context.attributes.get(name)
  const mismatch = (name: string, declared: Shape, ours: string) =>
    problems.push({
      file: 'schema',
      message: `${where}: context attribute "${name}" is declared as ${describe(declared)}, but the default context sets ${ours}: declare it as such, or set "defaultContext: false" and supply the context through "context"`,
    })
  // A simple attribute is carried when declared with our type (or one this module cannot tell).
  const simple = (name: string, ours: Shape): boolean => {
    const declared = attribute(name)
    if (declared === undefined) return false
    if (!sameShape(declared.shape, ours)) {
      mismatch(name, declared.shape, describe(ours))
      return false
    }
    return true
  }

  const scopes = simple('scopes', setOfStrings)
  const clientId = simple('clientId', string)
  const mtls = simple('mtls', bool)
  let time = simple('time', long)
  if (time && !timeOption) {
    time = false
    if (attribute('time')?.required === true) {
      problems.push({
        file: 'schema',
        message: `${where}: context attribute "time" is required by the schema, but the "time" option is false`,
      })
    }
  }

  let token: readonly TokenAttribute[] | undefined
  const declaredToken = attribute('token')
  if (declaredToken !== undefined) {
    const shape = declaredToken.shape
    if (shape.kind === 'Unknown') token = bothTokenAttributes
    else if (shape.kind !== 'Record') mismatch('token', shape, 'a record { scheme: String, format: String }')
    else {
      for (const [name, { required }] of shape.attributes) {
        if (required && name !== 'scheme' && name !== 'format') {
          problems.push({
            file: 'schema',
            message: `${where}: context attribute "token.${name}" is required by the schema, but the default context sets only "token.scheme" and "token.format"`,
          })
        }
      }
      const kept: TokenAttribute[] = []
      for (const name of bothTokenAttributes) {
        const inner = shape.attributes.get(name)?.shape
        if (inner === undefined) continue
        if (sameShape(inner, string)) kept.push(name)
        else mismatch(`token.${name}`, inner, 'a String')
      }
      token = Object.freeze(kept)
    }
  }

  // `workload` as `token`: the declared attributes among ours, each a String.
  let workload: readonly WorkloadAttribute[] | undefined
  const declaredWorkload = attribute('workload')
  if (declaredWorkload !== undefined) {
    const shape = declaredWorkload.shape
    if (shape.kind === 'Unknown') workload = allWorkloadAttributes
    else if (shape.kind !== 'Record') {
      mismatch('workload', shape, 'a record { id: String, trustDomain: String, path: String, proof: String }')
    } else {
      const kept: WorkloadAttribute[] = []
      for (const [name, { shape: inner, required }] of shape.attributes) {
        if (!(allWorkloadAttributes as readonly string[]).includes(name)) {
          if (required) {
            problems.push({
              file: 'schema',
              message: `${where}: context attribute "workload.${name}" is required by the schema, but the default context sets only "workload.id", "workload.trustDomain", "workload.path" and "workload.proof"`,
            })
          }
          continue
        }
        if (sameShape(inner, string)) kept.push(name as WorkloadAttribute)
        else mismatch(`workload.${name}`, inner, 'a String')
      }
      workload = Object.freeze(kept)
    }
  }

  let params: true | readonly string[] | undefined
  const declaredParams = attribute('params')
  if (declaredParams !== undefined) {
    const shape = declaredParams.shape
    if (shape.kind === 'Unknown') params = true
    else if (shape.kind !== 'Record') mismatch('params', shape, 'a record of route parameters (strings)')
    else {
      const names: string[] = []
      for (const [name, { shape: inner }] of shape.attributes) {
        if (sameShape(inner, string)) names.push(name)
        else mismatch(`params.${name}`, inner, 'a String (route parameters are strings)')
      }
      params = Object.freeze(names)
    }
  }
  return Object.freeze({ scopes, token, clientId, time, mtls, workload, params })
}

// A shape this module could not resolve matches: the engine has the last word on it.
function sameShape(declared: Shape, ours: Shape): boolean {
  if (declared.kind === 'Unknown') return true
  if (declared.kind === 'Set' && ours.kind === 'Set') return sameShape(declared.element, ours.element)
  return declared.kind === ours.kind && declared.kind !== 'Set'
}

function describe(shape: Shape, depth = 0): string {
  switch (shape.kind) {
    case 'String':
    case 'Long':
    case 'Bool':
      return shape.kind
    case 'Set':
      return `Set<${describe(shape.element, depth + 1)}>`
    case 'Record':
      if (depth > 2) return '{ … }'
      return `{ ${[...shape.attributes]
        .map(([name, a]) => `${name}${a.required ? '' : '?'}: ${describe(a.shape, depth + 1)}`)
        .join(', ')} }`
    case 'Entity':
      return `the entity type ${shape.name}`
    case 'Extension':
      return shape.name
    case 'Unknown':
      return shape.name
  }
}

/** The parts of the JSON schema form read here. */
interface SchemaType {
  readonly type: string
  readonly name?: string
  readonly element?: SchemaType
  readonly attributes?: Readonly<Record<string, SchemaType & { readonly required?: boolean }>>
}

type SchemaJson = Readonly<
  Record<
    string,
    {
      readonly commonTypes?: Readonly<Record<string, SchemaType>>
      readonly entityTypes?: Readonly<Record<string, unknown>>
      readonly actions?: Readonly<Record<string, { readonly appliesTo?: { readonly context?: SchemaType } }>>
    }
  >
>

const extensions = new Set(['ipaddr', 'decimal', 'datetime', 'duration'])
// Common types may refer to others; the engine refuses cycles, this bound only keeps a bug finite.
const maxDepth = 32

/** Resolves the types of a schema's JSON form by Cedar's name rules. */
class SchemaTypes {
  constructor(readonly json: SchemaJson) {}

  resolve(type: SchemaType, namespace: string, depth = 0): Shape {
    if (depth > maxDepth) return { kind: 'Unknown', name: type.name ?? type.type }
    switch (type.type) {
      case 'String':
        return string
      case 'Long':
        return long
      case 'Boolean':
        return bool
      case 'Set':
        return type.element === undefined
          ? { kind: 'Unknown', name: 'Set' }
          : { kind: 'Set', element: this.resolve(type.element, namespace, depth + 1) }
      case 'Record': {
        const attributes = new Map<string, { shape: Shape; required: boolean }>()
        for (const [name, attribute] of Object.entries(type.attributes ?? {})) {
          attributes.set(name, {
            shape: this.resolve(attribute, namespace, depth + 1),
            required: attribute.required !== false,
          })
        }
        return { kind: 'Record', attributes }
      }
      case 'Entity': {
        const name = type.name ?? ''
        return {
          kind: 'Entity',
          name: namespace === '' || name.includes('::') ? name : `${namespace}::${name}`,
        }
      }
      case 'Extension':
        return { kind: 'Extension', name: type.name ?? '' }
      case 'EntityOrCommon':
        return this.byName(type.name ?? '', namespace, true, depth)
      default:
        // The JSON form's `{ "type": "<common type>" }`.
        return this.byName(type.type, namespace, false, depth)
    }
  }

  /**
   * Cedar's resolution of a type name written in `namespace`: a common type of that namespace, an entity
   * type of it, a common type of the empty namespace, an entity type of it, then a built-in type.
   */
  private byName(name: string, namespace: string, entities: boolean, depth: number): Shape {
    if (name.startsWith('__cedar::')) return builtin(name.slice('__cedar::'.length))
    const split = name.lastIndexOf('::')
    const places = split < 0 ? [namespace, ''] : [name.slice(0, split)]
    const id = split < 0 ? name : name.slice(split + 2)
    for (const place of places) {
      const common = this.json[place]?.commonTypes?.[id]
      if (common !== undefined) return this.resolve(common, place, depth + 1)
      if (entities && this.json[place]?.entityTypes?.[id] !== undefined) {
        return { kind: 'Entity', name: place === '' ? id : `${place}::${id}` }
      }
    }
    return split < 0 ? builtin(id) : { kind: 'Unknown', name }
  }
}

function builtin(name: string): Shape {
  if (name === 'String') return string
  if (name === 'Long') return long
  if (name === 'Bool' || name === 'Boolean') return bool
  if (extensions.has(name)) return { kind: 'Extension', name }
  return { kind: 'Unknown', name }
}
