// The signed-in app: its token, kept in this tab's memory only (never localStorage, sessionStorage
// or a cookie), renewed before it expires with the client credentials the operator typed (also in
// memory only: client_credentials has no refresh token), and the engine's API called with it.

const TOKEN_URL = '/oauth/token'

/** The result of an API call: ok, HTTP status (0: the engine could not be reached) and parsed body. */
async function call (method, url, { token, body, signal } = {}) {
  const headers = { accept: 'application/json' }
  if (token !== undefined) headers.authorization = `Bearer ${token}`
  if (body !== undefined) headers['content-type'] = 'application/json'
  let res
  try {
    res = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: 'no-store', signal })
  } catch (err) {
    return { ok: false, status: 0, body: undefined, aborted: err?.name === 'AbortError' }
  }
  let parsed
  try { parsed = await res.json() } catch { parsed = undefined }
  return { ok: res.ok, status: res.status, body: parsed, retryAfter: Number(res.headers.get('retry-after')) || undefined }
}

/** When to renew a token that lives `seconds`: a minute before it expires, or at 3/4 of a short life. */
export function renewDelayMs (seconds) {
  return seconds > 120 ? (seconds - 60) * 1000 : seconds * 750
}

export class Session {
  #clientId
  #secret
  #token
  #renewTimer
  #expiryTimer
  #renewing
  #listeners = { renewed: [], expired: [] }

  /** When the current token expires (ms since the epoch). */
  expiresAt = 0

  on (what, fn) { this.#listeners[what].push(fn) }
  #emit (what, ...args) { for (const fn of this.#listeners[what]) fn(...args) }

  get token () { return this.#token }
  get valid () { return this.#token !== undefined && Date.now() < this.expiresAt }

  /** Asks for a token; resolves { ok } or { ok: false, code } ('invalid_client', 'rate_limited', 'network', ...). */
  async signIn (clientId, secret) {
    const r = await call('POST', TOKEN_URL, { body: { grant_type: 'client_credentials', client_id: clientId, client_secret: secret } })
    if (!r.ok) return { ok: false, code: r.status === 0 ? 'network' : (r.body?.error ?? `http_${r.status}`) }
    this.#clientId = clientId
    this.#secret = secret
    this.#accept(r.body)
    return { ok: true }
  }

  signOut () {
    clearTimeout(this.#renewTimer)
    clearTimeout(this.#expiryTimer)
    this.#clientId = this.#secret = this.#token = undefined
    this.expiresAt = 0
  }

  #accept ({ access_token: token, expires_in: expiresIn }) {
    // The token's expiry is counted in whole seconds from when it was issued: it may end up to a
    // second before expires_in says.
    const seconds = Math.max(1, expiresIn - 1)
    this.#token = token
    this.expiresAt = Date.now() + seconds * 1000
    clearTimeout(this.#renewTimer)
    clearTimeout(this.#expiryTimer)
    this.#renewTimer = setTimeout(() => { void this.renewNow() }, renewDelayMs(seconds))
    this.#expiryTimer = setTimeout(() => { if (!this.valid) this.#emit('expired') }, seconds * 1000 + 50)
  }

  /**
   * Renews now (the engine refused the token before its time: a clock apart, a restart with a new
   * key); resolves whether it got a new token. One renewal at a time.
   */
  async renewNow () {
    const before = this.#token
    clearTimeout(this.#renewTimer)
    this.#renewing ??= this.#renew().finally(() => { this.#renewing = undefined })
    await this.#renewing
    return this.valid && this.#token !== before
  }

  async #renew () {
    if (this.#secret === undefined) return
    const r = await call('POST', TOKEN_URL, { body: { grant_type: 'client_credentials', client_id: this.#clientId, client_secret: this.#secret } })
    if (this.#secret === undefined) return // signed out meanwhile
    if (r.ok) {
      this.#accept(r.body)
      this.#emit('renewed')
      return
    }
    // The app's credentials were withdrawn: nothing to retry, the session ends when the token does.
    if (r.status === 400 || r.status === 401) return
    // The engine unreachable or busy: try again while the token still lives.
    const left = this.expiresAt - Date.now()
    if (left > 1000) this.#renewTimer = setTimeout(() => { void this.renewNow() }, Math.min(10_000, Math.max(500, left / 3)))
  }

  /** An authenticated API call; `path` is under /uapi. */
  async api (method, path, body, signal) {
    return await call(method, `/uapi/${path}`, { token: this.#token, body, signal })
  }
}
