import { renderError } from '@zerotrust/core'
import type { Response } from 'express'

/** Sends any error as core renders it: status, headers, problem+json. */
export function sendError(res: Response, error: unknown, realm: string | undefined): void {
  const rendered = renderError(error, { realm })
  res.status(rendered.status).set(rendered.headers).send(rendered.body)
}
