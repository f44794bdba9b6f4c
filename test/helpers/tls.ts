// A throw-away self-signed certificate for localhost / 127.0.0.1, made with the openssl CLI (the
// same command as scripts/dev-tls.sh). Tests trust it by passing it as `ca`.
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export interface SelfSigned {
  readonly dir: string
  readonly certFile: string
  readonly keyFile: string
  readonly cert: Buffer
}

export function hasOpenssl (): boolean {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

export function selfSigned (): SelfSigned {
  const dir = mkdtempSync(join(tmpdir(), 'uapi-tls-'))
  const certFile = join(dir, 'cert.pem')
  const keyFile = join(dir, 'key.pem')
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-sha256', '-days', '2',
    '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
    '-keyout', keyFile, '-out', certFile], { stdio: 'ignore' })
  return { dir, certFile, keyFile, cert: readFileSync(certFile) }
}
