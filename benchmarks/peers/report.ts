// The chart of `pnpm bench:peers`, written by hand as SVG: one row per server, grouped by framework, one
// panel per workload, bars of requests per CPU-second (the steadiest reading on a shared machine).
import type { Contender, Framework } from './contenders.js'

export const workloads = ['single', 'rotating'] as const
export type Workload = (typeof workloads)[number]

/** One measurement, or the medians of several. */
export interface Measured {
  /** Requests per second autocannon saw. */
  readonly rps: number
  /** Server CPU microseconds per request. */
  readonly cpu: number
  /** 99th percentile latency, in milliseconds. */
  readonly p99: number
}

export interface ChartRow {
  readonly contender: Contender
  readonly single: Measured
  readonly rotating: Measured
}

const colors: Record<Contender['kind'], string> = { bare: '#9e9e9e', zerotrust: '#1f6fb4', peer: '#e8842c' }

const heading = 'Requests per CPU-second of the server, by framework (higher is better)'
const labelWidth = 290
const panelWidth = 300
const gap = 30
const rowHeight = 20
const top = 74

/** Requests per CPU-second: how many requests one core serves at this cost. */
const perCpuSecond = (m: Measured): number => 1e6 / m.cpu

function xmlText(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
}

function short(value: number): string {
  return value >= 10_000
    ? `${Math.round(value / 1000)}k`
    : value >= 1000
      ? `${(value / 1000).toFixed(1)}k`
      : `${Math.round(value)}`
}

/**
 * The SVG of the results: a panel per workload, a group of rows per framework, a bar per server, longer
 * when one CPU-second serves more requests. `caption` says when and where it was measured.
 */
export function chart(
  rows: readonly ChartRow[],
  order: readonly Framework[],
  caption: string,
  tokenCount: number,
): string {
  const titles: Record<Workload, string> = {
    single: 'one token, again and again',
    rotating: `${tokenCount.toLocaleString('en-US')} tokens in turn`,
  }
  const width = labelWidth + workloads.length * (panelWidth + gap) + 10
  const out: string[] = []
  let y = top
  const placed: { row: ChartRow; y: number }[] = []
  const headers: { framework: Framework; y: number }[] = []
  for (const framework of order) {
    headers.push({ framework, y })
    y += rowHeight
    for (const row of rows.filter((r) => r.contender.framework === framework)) {
      placed.push({ row, y })
      y += rowHeight
    }
    y += 8
  }
  const height = y + 40
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, -apple-system, 'Segoe UI', sans-serif" font-size="12" role="img" aria-labelledby="title">`,
    `<title id="title">${heading}: ${xmlText(caption)}</title>`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="10" y="22" font-size="15" font-weight="600">${heading}</text>`,
    `<text x="10" y="40" fill="#555">${xmlText(caption)}</text>`,
  )
  workloads.forEach((workload, index) => {
    const x0 = labelWidth + index * (panelWidth + gap)
    const max = Math.max(...rows.map((r) => perCpuSecond(r[workload])))
    out.push(
      `<text x="${x0}" y="${top - 12}" font-weight="600">${xmlText(titles[workload])}</text>`,
      `<line x1="${x0}" y1="${top - 4}" x2="${x0}" y2="${y - 8}" stroke="#bbb"/>`,
    )
    for (const { row, y: rowY } of placed) {
      const value = perCpuSecond(row[workload])
      const length = Math.max(1, (value / max) * (panelWidth - 50))
      out.push(
        `<rect x="${x0}" y="${rowY + 3}" width="${length.toFixed(1)}" height="${rowHeight - 6}" fill="${colors[row.contender.kind]}"/>`,
        `<text x="${(x0 + length + 4).toFixed(1)}" y="${rowY + rowHeight - 6}" fill="#333">${short(value)}</text>`,
      )
    }
  })
  for (const { framework, y: headerY } of headers) {
    out.push(`<text x="10" y="${headerY + rowHeight - 6}" font-weight="600">${framework}</text>`)
  }
  for (const { row, y: rowY } of placed) {
    const weight = row.contender.kind === 'zerotrust' ? ' font-weight="600"' : ''
    out.push(
      `<text x="24" y="${rowY + rowHeight - 6}"${weight} fill="${row.contender.kind === 'bare' ? '#666' : '#111'}">${xmlText(row.contender.label)}</text>`,
    )
  }
  let legendX = 10
  for (const [kind, label] of [
    ['zerotrust', 'zerotrust'],
    ['peer', 'peer library'],
    ['bare', 'the route without authentication'],
  ] as const) {
    out.push(
      `<rect x="${legendX}" y="${height - 26}" width="12" height="12" fill="${colors[kind]}"/>`,
      `<text x="${legendX + 16}" y="${height - 16}">${label}</text>`,
    )
    legendX += 40 + label.length * 6.5
  }
  out.push('</svg>')
  return `${out.join('\n')}\n`
}
