import { mkdir, mkdtemp, readlink, rename, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

let generation = 0

/**
 * A directory laid out exactly as the kubelet's atomic writer lays out a secret volume:
 *
 *   ..2026_11_23_13_24_08.000000001/KEY   the payload of one generation
 *   ..data -> ..2026_11_23_13_24_08.000000001
 *   KEY -> ..data/KEY
 *
 * An update writes a new timestamped directory, points `..data_tmp` at it and renames `..data_tmp` over
 * `..data` (one atomic rename), then removes the old generation.
 */
export class SecretVolume {
  private constructor(readonly directory: string) {}

  static async create(values: Record<string, string>): Promise<SecretVolume> {
    const volume = new SecretVolume(await mkdtemp(join(tmpdir(), 'zerotrust-secrets-')))
    await volume.write(values)
    return volume
  }

  /** Publishes a new generation of the volume, as a rotated Kubernetes secret does. */
  async write(values: Record<string, string>): Promise<void> {
    const now = new Date()
    const stamp = [now.getUTCFullYear(), now.getUTCMonth() + 1, now.getUTCDate(), now.getUTCHours()]
      .concat([now.getUTCMinutes(), now.getUTCSeconds()])
      .map((n) => String(n).padStart(2, '0'))
      .join('_')
    generation += 1
    const name = `..${stamp}.${String(generation).padStart(9, '0')}`
    await mkdir(join(this.directory, name))
    for (const [key, value] of Object.entries(values)) await writeFile(join(this.directory, name, key), value)
    const previous = await readlink(join(this.directory, '..data')).catch(() => undefined)
    await symlink(name, join(this.directory, '..data_tmp'))
    await rename(join(this.directory, '..data_tmp'), join(this.directory, '..data'))
    for (const key of Object.keys(values)) {
      await symlink(join('..data', key), join(this.directory, key)).catch((error: NodeJS.ErrnoException) => {
        if (error.code !== 'EEXIST') throw error
      })
    }
    if (previous !== undefined) await rm(join(this.directory, previous), { recursive: true, force: true })
  }

  async remove(): Promise<void> {
    await rm(this.directory, { recursive: true, force: true })
  }
}
