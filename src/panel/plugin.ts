// The operator panel (GET /panel): a few static files, plain HTML, CSS and JavaScript modules with
// no build step, served by the engine itself (closed networks: no CDN). The page talks only to the
// engine's own API (POST /oauth/token, GET /uapi/extensions/@me, the live stream, PUT/DELETE).
//
// The files are read once when the plugin registers (prepare at boot, not per request) and served
// from memory with a strong ETag. The page gets its own Content-Security-Policy, same origin only:
// scripts and styles from /panel/, fetch() to the engine, no inline code or style, no framing; every
// other response keeps the API's `default-src 'none'` (src/http/security.ts).
import { createHash } from 'node:crypto'
import { existsSync, readFileSync, readdirSync } from 'node:fs'
import type { FastifyInstance, FastifyReply } from 'fastify'

/** The panel page's CSP. No 'unsafe-inline' anywhere: the page sets classes and `hidden`, never style attributes. */
export const PANEL_CSP = "default-src 'none'; base-uri 'none'; connect-src 'self'; form-action 'none'; frame-ancestors 'none'; img-src 'self'; manifest-src 'none'; object-src 'none'; script-src 'self'; script-src-attr 'none'; style-src 'self'"

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml'
}

interface Asset {
  readonly body: Buffer
  readonly type: string
  readonly etag: string
}

// Where the assets are: beside this module (src/panel/public from the sources, dist/panel/public in
// tsc's output, where npm run build copies them), beside the bundle (dist/engine.js: ./panel/public),
// or, for a tsc-only build that did not copy them, the sources of the checkout.
const PUBLIC_DIRS = [new URL('./public/', import.meta.url), new URL('./panel/public/', import.meta.url), new URL('../../src/panel/public/', import.meta.url)]

function loadAssets (dir: URL): Map<string, Asset> {
  const assets = new Map<string, Asset>()
  for (const name of readdirSync(dir)) {
    const type = TYPES[name.slice(name.lastIndexOf('.'))]
    if (type === undefined) continue
    const body = readFileSync(new URL(name, dir))
    assets.set(name, { body, type, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"` })
  }
  return assets
}

export async function panelPlugin (app: FastifyInstance): Promise<void> {
  const dir = PUBLIC_DIRS.find((d) => existsSync(new URL('index.html', d)))
  if (dir === undefined) {
    // A build without its assets: the engine serves the API all the same, without the panel.
    app.log.warn({ looked: PUBLIC_DIRS.map((d) => d.pathname) }, 'panel assets not found: /panel is not served (npm run build copies them)')
    return
  }
  const assets = loadAssets(dir)
  const page = assets.get('index.html') as Asset
  assets.delete('index.html')

  const schema = { hide: true }
  app.get('/panel', { schema }, async (request, reply) => {
    void reply.header('content-security-policy', PANEL_CSP)
    return send(request.headers['if-none-match'], reply, page)
  })
  app.get<{ Params: { file: string } }>('/panel/:file', { schema }, async (request, reply) => {
    const asset = assets.get(request.params.file)
    if (asset === undefined) return await reply.callNotFound()
    return send(request.headers['if-none-match'], reply, asset)
  })
}

function send (ifNoneMatch: string | undefined, reply: FastifyReply, asset: Asset): Buffer | string {
  // no-cache: revalidate every time (a new engine version must not run an old page), 304 when unchanged.
  void reply.header('cache-control', 'no-cache').header('etag', asset.etag).type(asset.type)
  if (ifNoneMatch === asset.etag) {
    void reply.code(304)
    return ''
  }
  return asset.body
}
