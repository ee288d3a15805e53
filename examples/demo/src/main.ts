import { runDemo } from './demo.js'

runDemo({ log: (line) => console.log(line) }).then(
  () => {
    process.exitCode = 0
  },
  (error: unknown) => {
    console.error('demo failed:', error)
    process.exitCode = 1
  },
)
