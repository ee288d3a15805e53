/** A copy of `record` without its `undefined` members, so that a caller's `undefined` removes a default. */
export function withoutUndefined(record: Readonly<Record<string, unknown>>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(record).filter(([, value]) => value !== undefined))
}
