import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { cedarReasons } from '@zerotrust/cedar'
import { clientReasons } from '@zerotrust/client'
import { coreReasons, errorTable } from '@zerotrust/core'
import { dpopReasons } from '@zerotrust/dpop'
import { exchangeReasons } from '@zerotrust/exchange'
import { idempotencyReasons } from '@zerotrust/idempotency'
import { introspectionReasons } from '@zerotrust/introspection'
import { jwtReasons } from '@zerotrust/jwt'
import { ratelimitReasons } from '@zerotrust/ratelimit'
import { redisReasons } from '@zerotrust/redis'
import { secretsReasons } from '@zerotrust/secrets'
import { workloadReasons } from '@zerotrust/workload'
import { describe, expect, it } from 'vitest'

// docs/errors.md is the one page users read for codes and reasons: it must say exactly what the code
// does, no reason missing and none left over from a change (issue 13).
const root = fileURLToPath(new URL('../../../', import.meta.url))
const errorsPage = readFileSync(join(root, 'docs/errors.md'), 'utf8')

const reasonsByPackage: Readonly<Record<string, readonly string[]>> = {
  core: coreReasons,
  jwt: jwtReasons,
  introspection: introspectionReasons,
  dpop: dpopReasons,
  cedar: cedarReasons,
  idempotency: idempotencyReasons,
  redis: redisReasons,
  secrets: secretsReasons,
  client: clientReasons,
  workload: workloadReasons,
  exchange: exchangeReasons,
  ratelimit: ratelimitReasons,
}

/** The first cell of each row of the markdown table under `heading`, up to the next heading. */
function firstCells(heading: string): string[] {
  return rows(heading).map((cells) => cells[1] ?? '')
}

/** The cells of each row of the markdown table under `heading` (`[0]` is what precedes the first `|`). */
function rows(heading: string): string[][] {
  const start = `\n${errorsPage}`.indexOf(`\n${heading}\n`)
  expect(start, `docs/errors.md has no "${heading}" section`).toBeGreaterThan(-1)
  const end = errorsPage.indexOf('\n#', start + heading.length)
  const section = errorsPage.slice(start, end === -1 ? undefined : end)
  return section
    .split('\n')
    .filter((line) => line.startsWith('|') && !/^\|\s*-/.test(line))
    .slice(1) // the header row
    .map((line) => line.split('|'))
}

/** The backticked names of a cell, leaving out what its parentheses explain. */
function names(cell: string): string[] {
  return [...cell.replace(/\([^)]*\)/g, '').matchAll(/`([^`]+)`/g)].map((match) => match[1] as string)
}

const sorted = (values: Iterable<string>) => [...new Set(values)].sort()

describe('docs/errors.md says what the code does (issue 13)', () => {
  it("lists exactly the codes of core's error table", () => {
    expect(sorted(firstCells('# Errors').flatMap(names))).toEqual(sorted(Object.keys(errorTable)))
  })

  // A status written in the page but changed in the code would escape the check above (issue 20).
  it("gives each code the status of core's error table", () => {
    const documented = rows('# Errors').map((cells) => [names(cells[1] ?? '')[0], Number(cells[2])])
    const table = Object.entries(errorTable).map(([code, { status }]) => [code, status])
    expect(Object.fromEntries(documented)).toEqual(Object.fromEntries(table))
  })

  it("lists exactly the reasons of every package's reasons list", () => {
    expect(sorted(firstCells('## Reasons').flatMap(names))).toEqual(
      sorted(Object.values(reasonsByPackage).flat()),
    )
  })

  // A reason written in the code but left out of its package's list would escape the two checks above.
  it.each(Object.keys(reasonsByPackage))("finds no reason in %s's sources outside its list", (name) => {
    const allowed = new Set([...(reasonsByPackage[name] ?? []), ...coreReasons])
    const found = sourceReasons(join(root, 'packages', name, 'src'))
    expect(found.length).toBeGreaterThan(0)
    expect(found.filter((reason) => !allowed.has(reason))).toEqual([])
  })
})

// `reason: 'x'`, and the last argument of the helpers that build an error or an event from a reason.
const reasonLiteral =
  /\breason:\s*'([a-z][a-z0-9_]*)'|\b(?:invalidProof|nonceError|keyError|failed|rejection|invalid|invalidRequest|sourceError|unavailable|#unavailable|report|refusal)\((?:[^()]|\([^()]*\))*?'([a-z][a-z0-9_]*)',?\s*(?:\)|,\s*(?:error|cause|challenges|settings)\b)/g

function sourceReasons(dir: string): string[] {
  const found: string[] = []
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile() || !entry.name.endsWith('.ts') || entry.name.endsWith('.test.ts')) continue
    // Comments hold examples (`{ reason: 'expired' }`), not reasons the package gives.
    const text = readFileSync(join(entry.parentPath, entry.name), 'utf8')
      .replace(/\/\*[\s\S]*?\*\//g, '')
      .replace(/^\s*\/\/.*$/gm, '')
    for (const match of text.matchAll(reasonLiteral)) found.push((match[1] ?? match[2]) as string)
  }
  return sorted(found)
}
