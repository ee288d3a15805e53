import { closeSync, fstatSync, openSync, readSync } from 'node:fs'
import { join } from 'node:path'
import { isZeroTrustError, ZeroTrustError } from '@zerotrust/core'
import { files, type SecretSource } from '@zerotrust/secrets'
import { checkSvid, type Svid, type SvidPaths, type SvidTexts, svidError } from './lib/svid-check.js'
import { type SvidFilesOptions, svidFilesSettings } from './lib/svid-options.js'

export type { Svid } from './lib/svid-check.js'
export type { SvidFilesOptions } from './lib/svid-options.js'

/**
 * Where an X.509-SVID comes from, and how its holder learns of a new one: what {@link svidFiles}
 * returns and what `serverTls` takes.
 */
export interface SvidSource {
  /** The SVID in force: it passed every check when it was loaded. */
  current(): Svid
  /**
   * Calls `listener` with each new SVID once it passed every check and is in force. Returns a function
   * that removes the listener.
   */
  onRotate(listener: (svid: Svid) => void): () => void
  /** Stops watching the files; `current()` keeps returning the last SVID. */
  close(): void
}

// The same bound as @zerotrust/secrets' files: a PEM file is small, a larger one is a mistake.
const maxFileBytes = 1024 * 1024

/** Reads one SVID file synchronously, at most {@link maxFileBytes}; any failure is `svid_unreadable`. */
function readSvidFile(path: string): string {
  let fd: number | undefined
  try {
    fd = openSync(path, 'r')
    const size = fstatSync(fd).size
    if (size > maxFileBytes) {
      throw svidError('svid_unreadable', `"${path}" is larger than ${maxFileBytes} bytes`, { file: path })
    }
    const bytes = Buffer.alloc(size)
    let read = 0
    while (read < size) {
      const n = readSync(fd, bytes, read, size - read, null)
      if (n === 0) break
      read += n
    }
    // As @zerotrust/secrets' files read them later (one trailing newline dropped), so texts compare equal.
    const text = bytes.subarray(0, read).toString('utf8')
    return text.endsWith('\r\n') ? text.slice(0, -2) : text.endsWith('\n') ? text.slice(0, -1) : text
  } catch (error) {
    if (isZeroTrustError(error)) throw error
    const code = (error as NodeJS.ErrnoException).code ?? 'unknown error'
    throw svidError('svid_unreadable', `cannot read "${path}" (${code})`, { file: path })
  } finally {
    if (fd !== undefined) closeSync(fd)
  }
}

const sameTexts = (a: SvidTexts, b: SvidTexts) =>
  a.certificate === b.certificate && a.key === b.key && a.bundle === b.bundle

/**
 * An X.509-SVID from the files spiffe-helper writes (`svid.pem`: the leaf and its intermediates,
 * `svid_key.pem`, `svid_bundle.pem`), loaded at once and swapped when they change.
 *
 * The first load is synchronous and throws when the SVID cannot be served: a file missing or not PEM,
 * a key that is not the certificate's, a certificate expired or not yet valid (the error names the file
 * and the dates), a chain that does not verify to the bundle, or not exactly one SPIFFE ID in a URI SAN.
 *
 * Then the directory is watched with `@zerotrust/secrets`' `files` (debounced events, and a poll in case
 * events are lost). spiffe-helper writes the three files one after another, not atomically, so a read
 * that fails a check is retried `retries` times, `retryDelay` apart; meanwhile, and if every try fails,
 * the previous SVID stays in force and the failure goes to `onError`. A set that passes is swapped whole:
 * never a new certificate with an old key. A new bundle (a CA rotation) is taken the same way.
 *
 * @example
 * const svid = svidFiles({ dir: '/run/spiffe' })
 * const tls = serverTls(svid)
 * const server = tls.attach(https.createServer(tls, app))
 * svid.current().spiffeId // 'spiffe://prod.example.com/orders'
 * @throws TypeError naming the option, at construction
 * @throws ZeroTrustError `dependency_unavailable` when the files hold no SVID that can be served
 * @see https://github.com/spiffe/spiffe/blob/main/standards/X509-SVID.md
 * @see https://github.com/spiffe/spiffe-helper
 */
export function svidFiles(options: SvidFilesOptions): SvidSource {
  const settings = svidFilesSettings(options)
  const { dir, names, retries, retryDelay, report } = settings
  const paths: SvidPaths = {
    certificate: join(dir, names.certificate),
    key: join(dir, names.key),
    bundle: join(dir, names.bundle),
  }
  let texts: SvidTexts = {
    certificate: readSvidFile(paths.certificate),
    key: readSvidFile(paths.key),
    bundle: readSvidFile(paths.bundle),
  }
  let svid = checkSvid(texts, paths)
  const listeners = new Set<(svid: Svid) => void>()
  let closed = false
  let running = false
  let again = false
  let waiting: { timer: NodeJS.Timeout; resolve: () => void } | undefined

  const source: SecretSource = files({
    directory: dir,
    debounce: settings.debounce,
    pollInterval: settings.pollInterval,
  })

  const safeReport = (error: Error) => {
    try {
      report(error)
    } catch {
      // A sink that throws must not stop the watch.
    }
  }

  const pause = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        waiting = undefined
        resolve()
      }, ms)
      timer.unref()
      waiting = { timer, resolve }
    })

  const read = async (): Promise<SvidTexts> => {
    const found = await source.read([names.certificate, names.key, names.bundle])
    const text = (name: string, path: string): string => {
      const value = found.get(name)
      if (typeof value !== 'string')
        throw svidError('svid_unreadable', `cannot read "${path}" (ENOENT)`, { file: path })
      return value
    }
    return {
      certificate: text(names.certificate, paths.certificate),
      key: text(names.key, paths.key),
      bundle: text(names.bundle, paths.bundle),
    }
  }

  const install = (next: Svid, nextTexts: SvidTexts) => {
    svid = next
    texts = nextTexts
    for (const listener of [...listeners]) {
      try {
        listener(next)
      } catch (error) {
        safeReport(error instanceof Error ? error : new Error(String(error)))
      }
    }
  }

  // One pass: read, and retry a set that fails its checks a bounded number of times before reporting.
  const reloadOnce = async () => {
    let failure: unknown
    for (let attempt = 0; attempt <= retries && !closed; attempt++) {
      if (attempt > 0) await pause(retryDelay)
      if (closed) return
      try {
        const nextTexts = await read()
        if (sameTexts(nextTexts, texts)) {
          // Nothing changed (a poll of a plain directory, or a write that was undone); an SVID that ran out
          // while its files stayed the same means the helper that renews it stopped.
          if (Date.now() > svid.notAfter.getTime()) {
            safeReport(
              svidError(
                'svid_expired',
                `the certificate in "${paths.certificate}" expired (valid to ${svid.notAfter.toISOString()}) and no new one was written`,
                { file: paths.certificate, notBefore: svid.notBefore, notAfter: svid.notAfter },
              ),
            )
          }
          return
        }
        install(checkSvid(nextTexts, paths), nextTexts)
        return
      } catch (error) {
        failure = error
      }
    }
    if (closed) return
    safeReport(
      isZeroTrustError(failure)
        ? failure
        : new ZeroTrustError('dependency_unavailable', `cannot load the SVID in "${dir}"`, {
            reason: 'svid_unreadable',
            cause: failure,
          }),
    )
  }

  // Changes during a pass run one more pass after it, so the last write is always seen.
  const reload = async () => {
    if (running) {
      again = true
      return
    }
    running = true
    try {
      do {
        again = false
        await reloadOnce()
      } while (again && !closed)
    } finally {
      running = false
    }
  }

  source.start?.({
    changed: () => {
      reload().catch(safeReport)
    },
    report: safeReport,
  })

  return {
    current: () => svid,
    onRotate(listener) {
      listeners.add(listener)
      return () => {
        listeners.delete(listener)
      }
    },
    close() {
      if (closed) return
      closed = true
      listeners.clear()
      if (waiting !== undefined) {
        clearTimeout(waiting.timer)
        waiting.resolve()
        waiting = undefined
      }
      const done = source.close?.()
      if (done instanceof Promise) done.catch(safeReport)
    },
  }
}
