import { runDemo } from './demo.js'

// `--json` prints the steps and every service's audit events for tools; otherwise the story for a person.
const json = process.argv.includes('--json')
const memory = process.argv.includes('--memory')

runDemo({ memory, ...(json ? {} : { log: (line: string) => console.log(line) }) }).then(
  (result) => {
    if (json) {
      const steps = result.steps.map(({ hops: _hops, ...step }) => step)
      console.log(
        JSON.stringify(
          {
            ok: result.ok,
            stores: result.stores,
            diagramFile: result.diagramFile,
            steps,
            events: result.audit,
          },
          null,
          2,
        ),
      )
    }
    process.exitCode = result.ok ? 0 : 1
  },
  (error: unknown) => {
    console.error('demo failed:', error)
    process.exitCode = 1
  },
)
