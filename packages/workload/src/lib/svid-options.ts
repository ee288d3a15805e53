import type { SecureContextOptions, SecureVersion } from 'node:tls'
import { type OptionsSchema, option, parseOptions } from '@zerotrust/core/layer'
import { z } from 'zod'

/** Options of `svidFiles`. */
export interface SvidFilesOptions {
  /** The directory spiffe-helper writes to (its `cert_dir`), such as `/run/spiffe`. */
  readonly dir: string
  /** The certificate file: the leaf SVID and its intermediates; `svid.pem` by default (`svid_file_name`). */
  readonly certificateFile?: string
  /** The private key file; `svid_key.pem` by default (`svid_key_file_name`). */
  readonly keyFile?: string
  /** The trust bundle file; `svid_bundle.pem` by default (`svid_bundle_file_name`). */
  readonly bundleFile?: string
  /** Milliseconds to wait after the last change event before reading; 100 by default. */
  readonly debounce?: number
  /**
   * Milliseconds between reads in case change events are lost; 60 000 by default, `0` turns polling off.
   * A read of unchanged files does nothing.
   */
  readonly pollInterval?: number
  /** How many times a set of files that fails its checks is read again before the failure is reported; 5 by default. */
  readonly retries?: number
  /** Milliseconds between those reads; 200 by default. */
  readonly retryDelay?: number
  /**
   * Receives failures after the first load (files that still fail their checks after every retry, a
   * watch that broke, an SVID that expired with no new one written, a rotation listener that threw); the
   * SVID in force keeps serving. By default they become process warnings.
   */
  readonly onError?: (error: Error) => void
}

/** The options of `svidFiles` after checking, with every default filled in. */
export interface SvidFilesSettings {
  readonly dir: string
  readonly names: { readonly certificate: string; readonly key: string; readonly bundle: string }
  readonly debounce: number
  readonly pollInterval: number
  readonly retries: number
  readonly retryDelay: number
  readonly report: (error: Error) => void
}

// Node's largest timer delay: a longer one fires at once.
const maxTimerDelay = 2_147_483_647

const fileName = () =>
  option.nonEmptyString().refine((name) => !/[/\\\0]/.test(name) && name !== '.' && name !== '..', {
    error: 'must be a file name inside "dir", without a path separator',
  })

const svidFilesSchema = z.strictObject(
  {
    dir: option.nonEmptyString(),
    certificateFile: fileName().optional(),
    keyFile: fileName().optional(),
    bundleFile: fileName().optional(),
    debounce: option.milliseconds({ max: maxTimerDelay }).optional(),
    pollInterval: option.milliseconds({ max: maxTimerDelay }).optional(),
    retries: option.integer({ max: 100 }).optional(),
    retryDelay: option.milliseconds({ min: 1, max: 60_000 }).optional(),
    onError: option.callable<(error: Error) => void>().optional(),
  },
  { error: 'must be an object' },
) satisfies OptionsSchema<SvidFilesOptions>

const warn = (error: Error) => process.emitWarning(error.message, { code: 'ZEROTRUST_WORKLOAD' })

/**
 * Checks `svidFiles` options once.
 *
 * @throws TypeError naming the option
 */
export function svidFilesSettings(input: unknown): SvidFilesSettings {
  const o = parseOptions('svidFiles', svidFilesSchema, input)
  const names = {
    certificate: o.certificateFile ?? 'svid.pem',
    key: o.keyFile ?? 'svid_key.pem',
    bundle: o.bundleFile ?? 'svid_bundle.pem',
  }
  if (new Set(Object.values(names)).size !== 3) {
    throw new TypeError(
      'svidFiles: "certificateFile", "keyFile" and "bundleFile" options must name three different files',
    )
  }
  return Object.freeze({
    dir: o.dir,
    names: Object.freeze(names),
    debounce: o.debounce ?? 100,
    pollInterval: o.pollInterval ?? 60_000,
    retries: o.retries ?? 5,
    retryDelay: o.retryDelay ?? 200,
    report: o.onError ?? warn,
  })
}

/** Options of `serverTls`. */
export interface ServerTlsOptions {
  /**
   * Whether the TLS handshake refuses a client without a certificate that verifies to the bundle;
   * `true` by default. `false` lets such clients in, marked unverified (`authorized: false`), so that
   * `workloadIdentity` answers them 401 with a reason rather than a failed handshake: never serve a
   * route without that layer then.
   */
  readonly rejectUnauthorized?: boolean
  /** The lowest TLS version; `TLSv1.2` by default. */
  readonly minVersion?: SecureVersion
  /**
   * Further options of every secure context made from the SVID (`ciphers`, `ecdhCurve`, `sigalgs`…).
   * Give them here rather than to `createServer`: a rotation makes a new context from these alone.
   */
  readonly context?: Omit<SecureContextOptions, 'cert' | 'key' | 'ca' | 'pfx' | 'passphrase' | 'minVersion'>
  /**
   * Receives failures: a new SVID that no server could take, or one that arrived while no server is
   * attached. By default they become process warnings.
   */
  readonly onError?: (error: Error) => void
}

/** The options of `serverTls` after checking, with every default filled in. */
export interface ServerTlsSettings {
  readonly rejectUnauthorized: boolean
  readonly minVersion: SecureVersion
  readonly context: Readonly<Record<string, unknown>>
  readonly report: (error: Error) => void
}

const serverTlsSchema = z
  .strictObject(
    {
      rejectUnauthorized: option.boolean().optional(),
      minVersion: z.enum(['TLSv1.2', 'TLSv1.3'], { error: 'must be "TLSv1.2" or "TLSv1.3"' }).optional(),
      context: z
        .record(z.string(), z.unknown(), { error: 'must be an object' })
        .refine(
          (value) =>
            !['cert', 'key', 'ca', 'pfx', 'passphrase', 'minVersion'].some((name) =>
              Object.hasOwn(value, name),
            ),
          {
            error:
              'must not hold "cert", "key", "ca", "pfx", "passphrase" or "minVersion": they come from the SVID and the options',
          },
        )
        .optional(),
      onError: option.callable<(error: Error) => void>().optional(),
    },
    { error: 'must be an object' },
  )
  .optional() satisfies OptionsSchema<ServerTlsOptions | undefined>

/**
 * Checks `serverTls` options once.
 *
 * @throws TypeError naming the option
 */
export function serverTlsSettings(input: unknown): ServerTlsSettings {
  const o = parseOptions('serverTls', serverTlsSchema, input)
  return Object.freeze({
    rejectUnauthorized: o?.rejectUnauthorized ?? true,
    minVersion: o?.minVersion ?? 'TLSv1.2',
    context: Object.freeze({ ...(o?.context ?? {}) }),
    report: o?.onError ?? warn,
  })
}
