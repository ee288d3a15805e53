/** Engine messages longer than this are cut before they are scanned (they hold no more shape). */
const maxMessage = 2048
const identifier = /^[A-Za-z_][A-Za-z0-9_]*$/

/**
 * Engine messages quote entity ids and values from the request (`Order::"7"`, `` `5` ``): keeps the shape
 * of the message for operators and drops the data. Every double-quoted string becomes `"…"`, every
 * backquoted text that is not a plain identifier becomes `` `…` ``, and an unterminated quote hides the
 * rest of the message.
 *
 * One linear pass: the message can carry request data, so no backtracking pattern may scan it (a
 * `"(?:[^"\\]|\\.)*"` regex took 224 ms over 32,000 characters of an unterminated quote, issue 12).
 */
export function sanitize(message: string): string {
  const text = message.length > maxMessage ? `${message.slice(0, maxMessage)}…` : message
  let out = ''
  let from = 0
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c !== 0x22 && c !== 0x60) continue
    out += text.slice(from, i)
    const end = c === 0x22 ? closingQuote(text, i + 1) : text.indexOf('`', i + 1)
    if (end === -1) return `${out}${c === 0x22 ? '"…' : '`…'}`
    if (c === 0x22) out += '"…"'
    else out += identifier.test(text.slice(i + 1, end)) ? text.slice(i, end + 1) : '`…`'
    i = end
    from = end + 1
  }
  return out + text.slice(from)
}

/** The index of the `"` that closes a string opened before `from`, skipping `\` escapes; -1 if none. */
function closingQuote(text: string, from: number): number {
  for (let i = from; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c === 0x5c) i++
    else if (c === 0x22) return i
  }
  return -1
}
