import { type FSWatcher, watch } from 'node:fs'
import { readlink } from 'node:fs/promises'
import { join } from 'node:path'
import { errorCode, sourceError } from './lib/errors.js'
import { type FilesOptions, filesSettings } from './lib/options.js'
import { readSecretFile } from './lib/read-file.js'
import type { SecretSource, SourceContext, SourceValues } from './lib/source.js'
import { backgroundInterval, backgroundTimeout } from './lib/timers.js'

// A secret name that would leave the directory, or name the volume's own bookkeeping entries.
const unsafeName = /[/\\\0]|^\.\.?$|^\.\./

/**
 * A directory with one file per secret as a source: a Kubernetes secret volume, or Docker's
 * `/run/secrets`. One trailing newline is dropped from each file.
 *
 * Kubernetes updates a volume by writing a new timestamped directory and atomically renaming the
 * `..data` symlink onto it; every `KEY` is a symlink through `..data`. So the directory is watched, never
 * a file (a watch on a file follows the old inode and stops after the first swap), changes are
 * debounced, and `..data` is polled in case events are lost. Mounts with `subPath` never update.
 *
 * @example
 * loadSecrets({ schema, sources: [files({ directory: '/var/run/secrets/app' })] })
 * @see https://kubernetes.io/docs/concepts/configuration/secret/#using-secrets-as-files-from-a-pod
 */
export function files(options: FilesOptions): SecretSource {
  const { directory, debounce, pollInterval } = filesSettings(options)
  let watcher: FSWatcher | undefined
  let poller: NodeJS.Timeout | undefined
  let pending: NodeJS.Timeout | undefined
  let closed = false
  let lastTarget: string | undefined

  const currentTarget = () => readlink(join(directory, '..data')).catch(() => undefined)

  return {
    label: `files(${directory})`,
    async read(names: readonly string[]): Promise<SourceValues> {
      const found = new Map<string, unknown>()
      const texts = await Promise.all(
        names.map((name) => (unsafeName.test(name) ? undefined : readSecretFile(join(directory, name)))),
      )
      names.forEach((name, index) => {
        const text = texts[index]
        if (text !== undefined) found.set(name, text)
      })
      return found
    },
    start(context: SourceContext): void {
      if (closed) return
      const changed = () => {
        if (closed) return
        if (pending !== undefined) clearTimeout(pending)
        pending = backgroundTimeout(() => {
          pending = undefined
          if (!closed) context.changed()
        }, debounce)
      }
      try {
        watcher = watch(directory, { persistent: false }, changed)
        watcher.on('error', (error) => {
          watcher?.close()
          watcher = undefined
          context.report(sourceError(`watching "${directory}" failed (${errorCode(error)})`, 'watch'))
        })
      } catch (error) {
        context.report(sourceError(`watching "${directory}" failed (${errorCode(error)})`, 'watch'))
      }
      if (pollInterval > 0) {
        // `currentTarget` never rejects and these callbacks only compare and signal; the catch keeps a
        // throwing listener behind `changed()` from becoming an unhandled rejection (issue 12).
        const pollFailed = (error: unknown) =>
          context.report(sourceError(`polling "${directory}" failed (${errorCode(error)})`, 'watch'))
        currentTarget()
          .then((target) => {
            lastTarget = target
          })
          .catch(pollFailed)
        poller = backgroundInterval(() => {
          currentTarget()
            .then((target) => {
              // Without a `..data` link (a plain directory), every poll re-reads; unchanged values are no-ops.
              // A poll sees a settled directory, so it re-reads at once rather than through the debounce.
              if (!closed && (target === undefined || target !== lastTarget)) context.changed()
              lastTarget = target
            })
            .catch(pollFailed)
        }, pollInterval)
      }
    },
    close(): void {
      closed = true
      watcher?.close()
      watcher = undefined
      if (poller !== undefined) clearInterval(poller)
      if (pending !== undefined) clearTimeout(pending)
      poller = undefined
      pending = undefined
    },
  }
}
