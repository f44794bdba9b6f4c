// Turns what asterisk-manager's parser produces into our flat, string-only message shape.
// Hot path (every event): a scan that returns the parser's object as is when it is already flat,
// and builds a new object only for the few messages that need it. No closures, no regexes.

/**
 * One message as asterisk-manager's ManagerReader builds it: keys lower-cased; a repeated key becomes
 * an array; `variable` and `chanvariable` lines become NAME -> value maps; a `Key:` line with no space
 * after the colon keeps the colon in the key.
 */
export type RawValue = string | string[] | Record<string, string> | undefined
export type RawItem = Record<string, RawValue>

/** Flat message: every value a string (see AmiEvent in types.ts for the rules). */
export type FlatItem = Record<string, string>

export function normalizeItem (raw: RawItem): FlatItem {
  for (const key in raw) {
    if (typeof raw[key] !== 'string' || key.indexOf(':') !== -1 || key.endsWith('chanvariable')) {
      return rebuild(raw)
    }
  }
  return raw as FlatItem
}

function rebuild (raw: RawItem): FlatItem {
  const out: FlatItem = {}
  for (const rawKey in raw) {
    let value = raw[rawKey]
    if (value === undefined) continue
    let key = rawKey
    const colon = key.indexOf(':')
    if (colon !== -1) {
      // The package splits lines on ': ' only, so 'Key:' (empty value) or 'Key:value' lands in the key.
      const rest = key.slice(colon + 1).trim()
      key = key.slice(0, colon).trim()
      if (key.length === 0) continue
      if (rest.length > 0 && typeof value === 'string') value = value.length > 0 ? rest + ': ' + value : rest
    }
    if (typeof value === 'string') {
      if (key.endsWith('chanvariable')) addNameValue(out, key, value)
      else if (!(key in out)) out[key] = value
      else if (key === 'output') out[key] += '\n' + value
    } else if (Array.isArray(value)) {
      if (key === 'output') {
        out.output = out.output === undefined ? value.join('\n') : out.output + '\n' + value.join('\n')
      } else if (key.endsWith('chanvariable')) {
        for (const v of value) addNameValue(out, key, v)
      } else if (!(key in out) && value.length > 0) {
        out[key] = value[0] as string
      }
    } else {
      addMap(out, key, value)
    }
  }
  return out
}

/** `DestChanVariable: X=y` (left raw by the package) -> `destchanvariable.X = 'y'`; first wins. */
function addNameValue (out: FlatItem, key: string, line: string): void {
  const eq = line.indexOf('=')
  const name = eq === -1 ? line : line.slice(0, eq)
  const flat = key + '.' + name
  if (!(flat in out)) out[flat] = eq === -1 ? '' : line.slice(eq + 1)
}

function addMap (out: FlatItem, key: string, map: Record<string, string>): void {
  if (key === 'variable') {
    // VarSet carries `Variable: NAME` (no '='), which the package turns into { NAME: '' }:
    // keep it as the plain header VarSet consumers expect.
    const names = Object.keys(map)
    if (names.length === 1 && map[names[0] as string] === '') {
      if (!('variable' in out)) out.variable = names[0] as string
      return
    }
  }
  for (const name in map) {
    const flat = key + '.' + name
    if (!(flat in out)) out[flat] = map[name] as string
  }
}

/** An item with `event` is an event even when it also has `response` (OriginateResponse). */
export function isEvent (item: FlatItem): boolean {
  return item.event !== undefined
}
