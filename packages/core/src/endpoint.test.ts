import { describe, expect, it } from 'vitest'
import { checkEndpoint } from './endpoint.js'

describe('checkEndpoint', () => {
  it('takes https anywhere and plain http only on loopback addresses', () => {
    for (const url of [
      'https://idp.example.com/jwks',
      'http://localhost:8080/x',
      'http://127.0.0.2/x',
      'http://[::1]:9/x',
    ]) {
      expect(checkEndpoint(url)?.href, url).toBe(new URL(url).href)
    }
  })

  it('refuses plain http off loopback, names that only look like loopback, credentials and junk', () => {
    for (const url of [
      'http://idp.example.com/jwks',
      'http://127.attacker.example/jwks',
      'https://user:pass@idp.example.com/',
      'https://idp.example.com/#fragment',
      'ftp://idp.example.com/',
      'not a url',
    ]) {
      expect(checkEndpoint(url), url).toBeUndefined()
    }
  })
})
