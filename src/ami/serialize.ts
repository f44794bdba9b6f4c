// Validation in front of asterisk-manager's serializer (MakeManagerAction), which writes values
// verbatim: one CR/LF in a value would inject a second action into the session.
import { AmiError, AmiErrorCodes } from './errors.ts'
import type { AmiHeaders } from './types.ts'

const NAME_RE = /^[A-Za-z][A-Za-z0-9_-]*$/
// CR, LF, NUL, every other C0 control and DEL: none has a place in an AMI header line.
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL_RE = /[\u0000-\u001f\u007f]/

/** The object asterisk-manager's action() takes: keys are lower-cased and capitalised by it,
 *  repeated headers are a NAME -> value map (written `Key: NAME=value`, one line each). */
export type PackageAction = Record<string, string | Record<string, string>>

function bad (action: string, why: string): AmiError {
  return new AmiError(AmiErrorCodes.BAD_HEADER, `AMI action ${JSON.stringify(action)} refused: ${why}`, { action })
}

/**
 * Validates every name and value and maps AmiHeaders to the package's shape.
 * Throws AMI_ERR_BAD_HEADER; nothing is written in that case.
 */
export function toPackageAction (action: string, actionId: string, headers: AmiHeaders | undefined): PackageAction {
  if (!NAME_RE.test(action)) throw bad(action, 'invalid action name')
  const out: PackageAction = { action, actionid: actionId }
  if (headers === undefined) return out
  const seen = new Set<string>(['action', 'actionid'])
  for (const name of Object.keys(headers)) {
    const value = headers[name]
    if (value === undefined) continue
    if (!NAME_RE.test(name)) throw bad(action, `invalid header name ${JSON.stringify(name)}`)
    const lower = name.toLowerCase()
    // The package lower-cases keys, so 'Channel' and 'channel' would both be written.
    if (seen.has(lower)) throw bad(action, `header ${name} is reserved or given twice`)
    seen.add(lower)
    if (Array.isArray(value)) {
      out[lower] = toNameValueMap(action, name, value as readonly string[])
    } else {
      const text = String(value)
      if (CONTROL_RE.test(text)) throw bad(action, `control character in the value of ${name}`)
      out[lower] = text
    }
  }
  return out
}

/** ['A=1', 'B=2'] -> { A: '1', B: '2' }: the only repeated-header shape the package writes line by line. */
function toNameValueMap (action: string, header: string, list: readonly string[]): Record<string, string> {
  const map: Record<string, string> = Object.create(null) as Record<string, string>
  for (const entry of list) {
    if (typeof entry !== 'string') throw bad(action, `${header} entries must be strings`)
    const eq = entry.indexOf('=')
    if (eq <= 0) throw bad(action, `${header} entries must be NAME=value`)
    const varName = entry.slice(0, eq)
    if (CONTROL_RE.test(varName)) throw bad(action, `control character in a ${header} name`)
    const varValue = entry.slice(eq + 1)
    if (CONTROL_RE.test(varValue)) throw bad(action, `control character in the value of ${header} ${varName}`)
    map[varName] = varValue
  }
  return map
}
