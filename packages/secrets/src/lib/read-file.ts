import { readFile } from 'node:fs/promises'
import { sourceError } from './errors.js'

// Secret files are small; anything larger is a mistake (a directory of certificates, a log file).
const maxSecretBytes = 1024 * 1024

/**
 * Reads one secret file as UTF-8 without one trailing newline (as `echo` and most editors add), or
 * `undefined` when it does not exist. Other failures throw a
 * `dependency_unavailable` error naming the path and the error code only.
 */
export async function readSecretFile(path: string): Promise<string | undefined> {
  let bytes: Buffer
  try {
    bytes = await readFile(path)
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined
    throw sourceError(`cannot read "${path}" (${code ?? 'unknown error'})`, 'file')
  }
  if (bytes.byteLength > maxSecretBytes)
    throw sourceError(`"${path}" is larger than ${maxSecretBytes} bytes`, 'file')
  const text = bytes.toString('utf8')
  return text.endsWith('\r\n') ? text.slice(0, -2) : text.endsWith('\n') ? text.slice(0, -1) : text
}
