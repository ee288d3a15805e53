/** A column of {@link markdownTable}: its title and alignment. */
export type Column = readonly [title: string, align: 'left' | 'right']

/**
 * A markdown table padded the way the repository's formatter (Biome) writes one, so that it can be
 * pasted into RESULTS.md as it is.
 *
 * @example
 * markdownTable([['task', 'left'], ['mean µs', 'right']], [['floor', '0.10']])
 */
export function markdownTable(columns: readonly Column[], rows: readonly (readonly string[])[]): string {
  const widths = columns.map(([title], i) =>
    Math.max(title.length, 3, ...rows.map((row) => (row[i] ?? '').length)),
  )
  const cell = (text: string, i: number) => {
    const width = widths[i] ?? 0
    return columns[i]?.[1] === 'right' ? text.padStart(width) : text.padEnd(width)
  }
  const line = (cells: readonly string[]) => `| ${cells.map(cell).join(' | ')} |`
  const rule = columns.map(([, align], i) => {
    const width = widths[i] ?? 3
    return align === 'right' ? `${'-'.repeat(width - 1)}:` : '-'.repeat(width)
  })
  return [line(columns.map(([title]) => title)), `| ${rule.join(' | ')} |`, ...rows.map(line)].join('\n')
}
