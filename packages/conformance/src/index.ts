export { startFixtures } from './fixtures.js'
export * from './harness.js'
export { mountExpress } from './mounts/express.js'
export * from './scenarios.js'
