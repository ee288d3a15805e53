import { describe, expect, it } from 'vitest'
import {
  fromFetchRequest,
  fromNodeRequest,
  originResolver,
  type RequestLike,
  requestTarget,
  requestUrl,
  withRoute,
} from './request.js'

const node = (rawHeaders: string[], url = '/a/b?c=1', remoteAddress = '10.0.0.2') => ({
  method: 'post',
  url,
  rawHeaders,
  socket: { remoteAddress },
})

describe('originResolver', () => {
  it('uses the configured public origin and ignores Host and X-Forwarded-*', () => {
    const resolve = originResolver({ publicOrigin: 'https://API.example.com:443/' })
    const req = fromNodeRequest(node(['Host', 'evil.example', 'X-Forwarded-Host', 'evil.example']), {
      resolveOrigin: resolve,
    })
    expect(req.origin).toBe('https://api.example.com')
  })

  it('has no origin by default, whatever Host says', () => {
    const req = fromNodeRequest(node(['Host', 'evil.example']), { resolveOrigin: originResolver() })
    expect(req.origin).toBeUndefined()
    expect(() => requestUrl(req)).toThrow(expect.objectContaining({ code: 'internal_error' }))
  })

  it('trusts forwarded headers only from a trusted proxy', () => {
    const headers = ['X-Forwarded-Proto', 'https', 'X-Forwarded-Host', 'api.example.com, inner']
    const resolve = originResolver({ trustProxy: (address) => address === '127.0.0.1' })
    expect(fromNodeRequest(node(headers, '/', '127.0.0.1'), { resolveOrigin: resolve }).origin).toBe(
      'https://api.example.com',
    )
    expect(fromNodeRequest(node(headers, '/', '10.9.9.9'), { resolveOrigin: resolve }).origin).toBeUndefined()
  })

  it('refuses a forwarded host that smuggles a path or credentials', () => {
    const resolve = originResolver({ trustProxy: true })
    for (const host of ['evil.example/x', 'user@evil.example', 'a b']) {
      const headers = ['X-Forwarded-Proto', 'https', 'X-Forwarded-Host', host]
      expect(fromNodeRequest(node(headers), { resolveOrigin: resolve }).origin, host).toBeUndefined()
    }
  })

  // Issue 12 (regex audit): request data is bounded before any pattern reads it.
  it('refuses a forwarded host longer than any host before matching it, and takes only the first member', () => {
    const resolve = originResolver({ trustProxy: true })
    const origin = (host: string) =>
      fromNodeRequest(node(['X-Forwarded-Proto', 'https', 'X-Forwarded-Host', host]), {
        resolveOrigin: resolve,
      }).origin
    expect(origin(`${'a'.repeat(253)}:65535`)).toBe(`https://${'a'.repeat(253)}:65535`)
    expect(origin('a'.repeat(260))).toBeUndefined()
    expect(origin(`api.example.com,${'x,'.repeat(30_000)}`)).toBe('https://api.example.com')
  })

  it('rejects a public origin that is not an origin, naming the option', () => {
    for (const value of ['api.example.com', 'ftp://x', 'https://x/path', 'https://u:p@x', 'https://x/?q']) {
      expect(() => originResolver({ publicOrigin: value }), value).toThrow(
        /^authenticate: "publicOrigin" option/,
      )
    }
    expect(() => originResolver({ trustProxy: 'yes' as unknown as boolean })).toThrow(
      /^authenticate: "trustProxy" option/,
    )
  })
})

describe('fromNodeRequest', () => {
  it('exposes method, target, path and every value of a repeated header', () => {
    const req = fromNodeRequest(
      node(['Authorization', 'Bearer a', 'authorization', 'Bearer b', 'X-Request-Id', 'req-1']),
      { resolveOrigin: originResolver({ publicOrigin: 'https://api.example.com' }) },
    )
    expect(req.method).toBe('POST')
    expect(req.target).toBe('/a/b?c=1')
    expect(req.path).toBe('/a/b')
    expect(req.headerValues('AUTHORIZATION')).toEqual(['Bearer a', 'Bearer b'])
    expect(req.headerValues('missing')).toEqual([])
    expect(req.requestId).toBe('req-1')
    expect(requestUrl(req).href).toBe('https://api.example.com/a/b?c=1')
    expect(req.peerCertificate?.()).toBeUndefined()
  })

  it('drops a request id that could forge log lines', () => {
    const req = fromNodeRequest(node(['X-Request-Id', 'a\nlevel=admin']), { resolveOrigin: originResolver() })
    expect(req.requestId).toBeUndefined()
    const id = (value: string) =>
      fromNodeRequest(node(['X-Request-Id', value]), { resolveOrigin: originResolver() })
    expect(id('a'.repeat(128)).requestId).toBe('a'.repeat(128))
    expect(id('a'.repeat(129)).requestId).toBeUndefined()
  })

  it('reads the peer certificate DER when the socket has one', () => {
    const raw = new Uint8Array([1, 2, 3])
    const req = fromNodeRequest(
      {
        ...node([]),
        socket: {
          remoteAddress: '127.0.0.1',
          getPeerCertificate: () => ({ raw, subjectaltname: 'URI:spiffe://x/y' }),
        },
      },
      { resolveOrigin: originResolver() },
    )
    // A socket that does not say it verified the chain is not verified.
    expect(req.peerCertificate?.()).toEqual({ raw, subjectAltName: 'URI:spiffe://x/y', authorized: false })
    expect(req.remoteAddress).toBe('127.0.0.1')
  })

  it("carries the TLS socket's verdict on the peer certificate (issue 15)", () => {
    const raw = new Uint8Array([1, 2, 3])
    const view = (authorized: unknown) =>
      fromNodeRequest(
        {
          ...node([]),
          socket: { remoteAddress: '::1', authorized, getPeerCertificate: () => ({ raw }) } as never,
        },
        { resolveOrigin: originResolver() },
      ).peerCertificate?.()
    expect(view(true)).toEqual({ raw, authorized: true })
    expect(view(false)).toEqual({ raw, authorized: false })
    // Only the boolean true counts.
    expect(view('true')).toEqual({ raw, authorized: false })
    expect(view(undefined)).toEqual({ raw, authorized: false })
  })

  it("reads a TLS socket's peer certificate through getPeerX509Certificate, its names only when asked (issue 15)", () => {
    const raw = new Uint8Array([1, 2, 3])
    let namesRead = 0
    const x509 = {
      raw,
      get subjectAltName() {
        namesRead++
        return 'URI:spiffe://x/y'
      },
    }
    const view = (peer: typeof x509 | undefined) =>
      fromNodeRequest(
        {
          ...node([]),
          socket: {
            authorized: true,
            getPeerX509Certificate: () => peer,
            getPeerCertificate: () => {
              throw new Error('the X509Certificate is read instead')
            },
          },
        },
        { resolveOrigin: originResolver() },
      ).peerCertificate?.()
    const certificate = view(x509)
    expect(certificate?.raw).toBe(raw)
    expect(certificate?.authorized).toBe(true)
    expect(namesRead).toBe(0)
    expect(certificate?.subjectAltName).toBe('URI:spiffe://x/y')
    expect(view(undefined)).toBeUndefined()
    expect(view({ raw: new Uint8Array(), subjectAltName: undefined } as never)).toBeUndefined()
  })
})

describe('fromFetchRequest', () => {
  it('takes path and query from the URL and the origin from configuration only', () => {
    const request = new Request('http://evil.example:8080/a/b?c=1#frag', {
      method: 'delete',
      headers: { authorization: 'Bearer a', 'x-request-id': 'r-9' },
    })
    const req = fromFetchRequest(request, {
      resolveOrigin: originResolver({ publicOrigin: 'https://api.example.com' }),
    })
    expect(req).toMatchObject({
      method: 'DELETE',
      origin: 'https://api.example.com',
      target: '/a/b?c=1',
      path: '/a/b',
    })
    expect(req.headerValues('Authorization')).toEqual(['Bearer a'])
    expect(req.headerValues('missing')).toEqual([])
    expect(req.requestId).toBe('r-9')
    expect(req.peerCertificate?.()).toBeUndefined()
    expect(req.remoteAddress).toBeUndefined()
  })

  it('passes the remote address it is given through (issue 15)', () => {
    const req = fromFetchRequest(new Request('http://host.example/'), {
      resolveOrigin: originResolver(),
      remoteAddress: '10.0.0.7',
    })
    expect(req.remoteAddress).toBe('10.0.0.7')
  })

  it('has no origin by default', () => {
    const req = fromFetchRequest(new Request('http://host.example/'), { resolveOrigin: originResolver() })
    expect(req.origin).toBeUndefined()
    expect(req.target).toBe('/')
  })
})

describe('withRoute', () => {
  const certificate = { raw: new Uint8Array([1]), authorized: true }
  const headers = (name: string) => (name === 'authorization' ? ['Bearer x'] : [])
  const view: RequestLike = {
    method: 'GET',
    origin: 'https://api.example.com',
    target: '/orders/7?expand=items',
    path: '/orders/7',
    headerValues: headers,
    peerCertificate: () => certificate,
    requestId: 'req-1',
    remoteAddress: '127.0.0.1',
  }

  it('carries every member of the view, with the route and a frozen copy of the params', () => {
    const params = { id: '7' }
    const routed = withRoute(view, '/orders/:id', params)
    expect(routed).toEqual({ ...view, route: '/orders/:id', params: { id: '7' } })
    expect(Object.keys(routed).sort()).toEqual([...Object.keys(view), 'route', 'params'].sort())
    expect(routed.peerCertificate?.()).toBe(certificate)
    expect(routed.headerValues('authorization')).toEqual(['Bearer x'])
    expect(Object.isFrozen(routed.params)).toBe(true)
    params.id = '8'
    expect(routed.params).toEqual({ id: '7' })
  })

  it('leaves the original view as it was', () => {
    withRoute(view, '/orders/:id', { id: '7' })
    expect(view).not.toHaveProperty('route')
    expect(view).not.toHaveProperty('params')
    expect(withRoute(view, undefined, undefined)).toMatchObject({ route: undefined, params: undefined })
  })
})

describe('requestTarget', () => {
  it('keeps an origin-form target and reduces an absolute one to its path and query', () => {
    expect(requestTarget('/a?b=1')).toBe('/a?b=1')
    expect(requestTarget('http://evil.example/a/b?c=1#d')).toBe('/a/b?c=1')
    expect(requestTarget('https://evil.example')).toBe('/')
    expect(requestTarget('*')).toBe('*')
  })

  it('reduces an HTTP/1.1 absolute-form request target in the Node view', () => {
    const req = fromNodeRequest(node([], 'http://evil.example/orders?x=1'), {
      resolveOrigin: originResolver(),
    })
    expect(req).toMatchObject({ target: '/orders?x=1', path: '/orders' })
  })
})

describe('requestUrl', () => {
  it('keeps the configured origin whatever the target says', () => {
    const resolveOrigin = originResolver({ publicOrigin: 'https://api.example.com' })
    for (const target of ['//evil.example/orders', '/\\evil.example/orders', '/a/../../b']) {
      const url = requestUrl(fromNodeRequest(node([], target), { resolveOrigin }))
      expect(url.origin, target).toBe('https://api.example.com')
    }
  })
})
