import { type ChildProcess, spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'

/** A fixture server running in a child process. */
export interface Replica {
  readonly url: string
  readonly child: ChildProcess
  /** How many times its handlers ran. */
  runs(): Promise<number>
  /** SIGKILL, as a crash: no response, no cleanup. */
  kill(): Promise<void>
}

const packageDir = fileURLToPath(new URL('..', import.meta.url))

/**
 * Starts `script` (`test/idempotency-redis-server.ts` by default) with `env` and waits (at most 30 s)
 * until it listens.
 */
export function startReplica(
  env: Record<string, string>,
  script = 'test/idempotency-redis-server.ts',
): Promise<Replica> {
  // The source condition resolves @zerotrust/* to their sources, as vitest does: no build needed.
  const child = spawn(process.execPath, ['--conditions=@zerotrust/source', '--import', 'tsx', script], {
    cwd: packageDir,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let errors = ''
  child.stderr?.on('data', (chunk: Buffer) => {
    errors += chunk.toString('utf8')
  })
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`the replica did not start within 30 s: ${errors}`))
    }, 30_000)
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`the replica exited with ${code}: ${errors}`))
    })
    let out = ''
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString('utf8')
      const line = out.split('\n')[0]
      if (!out.includes('\n') || line === undefined) return
      clearTimeout(timer)
      const url = `http://127.0.0.1:${(JSON.parse(line) as { port: number }).port}`
      resolve({
        url,
        child,
        runs: async () => ((await (await fetch(`${url}/runs`)).json()) as { runs: number }).runs,
        kill: async () => {
          if (child.exitCode !== null || child.signalCode !== null) return
          const exited = new Promise((done) => child.once('exit', done))
          child.kill('SIGKILL')
          await exited
        },
      })
    })
  })
}
