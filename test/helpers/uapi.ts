// A small UAPI client over app.inject for PBX tests: tokens per demo user, list and act.
import type { App } from '../../src/app.ts'
import type { PhoneCall, PhoneCallView } from '../../src/calls/index.ts'
import { tokenFor } from './app.ts'
import { eventually } from './wait.ts'

export interface Collection {
  startIndex: number
  itemsPerPage: number
  totalResults: number
  entry: PhoneCall[]
  paging?: { next?: string, prev?: string }
}

export class UapiClient {
  private constructor (readonly app: App, readonly token: string) {}

  static async as (app: App, userId: number): Promise<UapiClient> {
    return new UapiClient(app, await tokenFor(app, userId))
  }

  async get (path: string): Promise<{ status: number, body: any }> {
    const res = await this.app.inject({ method: 'GET', url: `/uapi/phoneCalls/${path}`, headers: { authorization: `Bearer ${this.token}` } })
    return { status: res.statusCode, body: res.json() }
  }

  async list (path: string): Promise<Collection> {
    const res = await this.get(path)
    if (res.status !== 200) throw new Error(`GET ${path}: ${res.status} ${JSON.stringify(res.body)}`)
    return res.body as Collection
  }

  async put (path: string, body: unknown): Promise<{ status: number, body: any }> {
    const res = await this.app.inject({ method: 'PUT', url: `/uapi/phoneCalls/${path}`, headers: { authorization: `Bearer ${this.token}` }, payload: body as object })
    return { status: res.statusCode, body: res.json() }
  }

  async post (path: string, body: unknown): Promise<{ status: number, body: any }> {
    const res = await this.app.inject({ method: 'POST', url: `/uapi/phoneCalls/${path}`, headers: { authorization: `Bearer ${this.token}` }, payload: body as object })
    return { status: res.statusCode, body: res.json() }
  }

  async delete (path: string): Promise<{ status: number, body: any }> {
    const res = await this.app.inject({ method: 'DELETE', url: `/uapi/phoneCalls/${path}`, headers: { authorization: `Bearer ${this.token}` } })
    return { status: res.statusCode, body: res.json() }
  }

  /** Polls a list until `accept` finds what it wants in it. */
  async until<T> (path: string, accept: (c: Collection) => T | undefined, what: string, timeoutMs = 10_000): Promise<T> {
    return await eventually(async () => accept(await this.list(path)), { what, timeoutMs })
  }
}

/** The statuses of a call's views, keyed by extension. */
export function statuses (call: PhoneCall | undefined): Record<string, number> {
  const out: Record<string, number> = {}
  for (const v of call?.phoneCallView ?? []) out[v.extension] = v.status
  return out
}

export function viewOf (call: PhoneCall | undefined, extension: string): PhoneCallView | undefined {
  return call?.phoneCallView.find((v) => v.extension === extension)
}
