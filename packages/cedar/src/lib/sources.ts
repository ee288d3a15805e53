import { readdirSync, readFileSync, realpathSync } from 'node:fs'
import { readdir, readFile, realpath } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import type { PolicySource, SchemaSource } from './options.js'

/** One unit of Cedar text and the name its policy ids and error locations use. */
export interface PolicyText {
  readonly name: string
  readonly text: string
}

/** The schema as cedar-wasm takes it: Cedar text or the JSON form. */
export type SchemaInput = string | Readonly<Record<string, unknown>>

// Only `*.cedar`, and never hidden entries: a Kubernetes ConfigMap mount holds `..data` and
// `..2026_11_23_…` directories beside the symlinks to the real files.
function isPolicyFile(name: string): boolean {
  return name.endsWith('.cedar') && !name.startsWith('.')
}

/** Reads every source, synchronously: for construction, where a failure must stop startup. */
export function readSourcesSync(sources: readonly PolicySource[]): PolicyText[] {
  const out: PolicyText[] = []
  for (const source of sources) {
    if ('text' in source) out.push({ name: source.name ?? 'inline', text: source.text })
    else if ('file' in source) out.push({ name: source.file, text: readFileSync(source.file, 'utf8') })
    else {
      const root = snapshotRootSync(source.dir)
      const names = readdirSync(root).filter(isPolicyFile).sort()
      for (const name of names) out.push({ name, text: readFileSync(join(root, name), 'utf8') })
    }
  }
  return out
}

/** Reads every source without blocking the event loop: for reloads while serving. */
export async function readSources(sources: readonly PolicySource[]): Promise<PolicyText[]> {
  const out: PolicyText[] = []
  for (const source of sources) {
    if ('text' in source) out.push({ name: source.name ?? 'inline', text: source.text })
    else if ('file' in source) out.push({ name: source.file, text: await readFile(source.file, 'utf8') })
    else out.push(...(await readDirectory(source.dir)))
  }
  return out
}

/**
 * Reads a policy directory as one snapshot. A Kubernetes volume swaps its `..data` symlink to publish a
 * new version of every file at once; reading file by file through the mount could mix two versions (a
 * `forbid` moved between files would vanish). So the files are read from the directory `..data` points
 * at, and the read is retried when it pointed elsewhere by the end.
 */
async function readDirectory(dir: string): Promise<PolicyText[]> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const root = await snapshotRoot(dir)
    const names = (await readdir(root)).filter(isPolicyFile).sort()
    const texts = await Promise.all(names.map((name) => readFile(join(root, name), 'utf8')))
    if ((await snapshotRoot(dir)) === root)
      return names.map((name, i) => ({ name, text: texts[i] as string }))
  }
  throw new Error(`the policy directory ${dir} kept changing while it was read`)
}

function snapshotRootSync(dir: string): string {
  try {
    return realpathSync(join(dir, '..data'))
  } catch {
    return dir
  }
}

async function snapshotRoot(dir: string): Promise<string> {
  try {
    return await realpath(join(dir, '..data'))
  } catch {
    return dir
  }
}

/** Reads the schema source, synchronously. */
export function readSchemaSync(source: SchemaSource | undefined): SchemaInput | undefined {
  if (source === undefined) return undefined
  if ('text' in source) return source.text
  if ('json' in source) return source.json
  return schemaFromFile(source.file, readFileSync(source.file, 'utf8'))
}

/** Reads the schema source without blocking. */
export async function readSchema(source: SchemaSource | undefined): Promise<SchemaInput | undefined> {
  if (source === undefined) return undefined
  if ('text' in source) return source.text
  if ('json' in source) return source.json
  return schemaFromFile(source.file, await readFile(source.file, 'utf8'))
}

function schemaFromFile(file: string, text: string): SchemaInput {
  if (!file.endsWith('.json')) return text
  try {
    return JSON.parse(text) as Record<string, unknown>
  } catch {
    throw new CedarPolicyError([{ file, message: 'the schema file is not valid JSON' }])
  }
}

/**
 * The directories to watch for changes of these sources. Directories, not files: an editor's atomic save
 * and a Kubernetes mount's `..data` symlink swap replace the file, and a watch on the file stops there.
 */
export function watchTargets(
  sources: readonly PolicySource[],
  schema: SchemaSource | undefined,
): Set<string> {
  const targets = new Set<string>()
  for (const source of sources) {
    if ('dir' in source) targets.add(source.dir)
    else if ('file' in source) targets.add(dirname(source.file))
  }
  if (schema !== undefined && 'file' in schema) targets.add(dirname(schema.file))
  return targets
}

/** Where in the sources a problem is, and what it is. */
export interface PolicyProblem {
  /** The policy's id, when the problem belongs to one policy. */
  readonly policyId?: string
  /** The file (or source name) holding it. */
  readonly file: string
  /** 1-based line and column, where cedar-wasm located it. */
  readonly line?: number
  readonly column?: number
  readonly message: string
}

/**
 * Thrown by `cedarAuthorizer` at construction, and by `reload()`, when policies or the schema cannot be
 * read, parsed or validated. `problems` lists each one with its policy id, file, line and message.
 *
 * @example
 * try { cedarAuthorizer({ policies: { dir: './policies' } }) } catch (e) { if (e instanceof CedarPolicyError) console.error(e.problems) }
 */
export class CedarPolicyError extends Error {
  override readonly name = 'CedarPolicyError'
  readonly code = 'ERR_CEDAR_POLICY'
  readonly problems: readonly PolicyProblem[]

  constructor(problems: readonly PolicyProblem[], options?: { cause?: unknown }) {
    super(`invalid cedar policies: ${problems.map(describeProblem).join('; ')}`, options)
    this.problems = Object.freeze([...problems])
  }
}

function describeProblem(problem: PolicyProblem): string {
  const where =
    problem.line === undefined ? problem.file : `${problem.file}:${problem.line}:${problem.column ?? 1}`
  const policy = problem.policyId === undefined ? '' : ` policy "${problem.policyId}"`
  return `${where}${policy}: ${problem.message}`
}
