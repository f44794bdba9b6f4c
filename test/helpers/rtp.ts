/**
 * RTP on the wire for audio tests: write a pcap SIPp can play, capture what Asterisk really sends
 * on the loopback (tcpdump -i lo), decode G.711 and measure loudness per destination port.
 *
 *   writeSilencePcap(file, { seconds: 12 })      // A-law digital silence (0xD5), 20 ms packets
 *   const cap = await Capture.start([p210, p300])  // tcpdump on lo, UDP to or from those ports
 *   ...; const packets = await cap.stop()
 *   const e = energyByPort(packets)              // Map dst port -> { packets, rms, payloadTypes }
 *   energy(packets.filter((p) => p.srcPort === p024))  // one stream's loudness
 *   readPcap(file)                               // UDP packets of any Ethernet/cooked pcap
 *
 * A pcap file is a 24-byte global header and, per packet, a 16-byte record header followed by the
 * frame. SIPp's play_pcap_audio uses only the UDP payload (the RTP packet) and the record timestamps.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const ALAW_SILENCE = 0xd5

/** Writes `seconds` of A-law (payload type 8) digital silence as RTP in an Ethernet pcap. */
export function writeSilencePcap (file: string, { seconds, packetMs = 20 }: { seconds: number, packetMs?: number }): void {
  const samples = 8 * packetMs
  const count = Math.ceil((seconds * 1000) / packetMs)
  const frameLen = 14 + 20 + 8 + 12 + samples
  const out = Buffer.alloc(24 + count * (16 + frameLen))
  // Global header: magic, version 2.4, thiszone 0, sigfigs 0, snaplen, linktype 1 (Ethernet).
  out.writeUInt32LE(0xa1b2c3d4, 0)
  out.writeUInt16LE(2, 4)
  out.writeUInt16LE(4, 6)
  out.writeUInt32LE(65535, 16)
  out.writeUInt32LE(1, 20)
  const ssrc = 0x5111e2ce
  for (let i = 0; i < count; i++) {
    let o = 24 + i * (16 + frameLen)
    const us = i * packetMs * 1000
    out.writeUInt32LE(Math.floor(us / 1e6), o)
    out.writeUInt32LE(us % 1e6, o + 4)
    out.writeUInt32LE(frameLen, o + 8)
    out.writeUInt32LE(frameLen, o + 12)
    o += 16
    // Ethernet: zero MACs, type IPv4.
    out.writeUInt16BE(0x0800, o + 12)
    o += 14
    // IPv4 127.0.0.1 -> 127.0.0.1, UDP.
    const ip = o
    out[ip] = 0x45
    out.writeUInt16BE(20 + 8 + 12 + samples, ip + 2)
    out.writeUInt16BE(i & 0xffff, ip + 4)
    out[ip + 8] = 64
    out[ip + 9] = 17
    out.writeUInt32BE(0x7f000001, ip + 12)
    out.writeUInt32BE(0x7f000001, ip + 16)
    out.writeUInt16BE(ipChecksum(out.subarray(ip, ip + 20)), ip + 10)
    o += 20
    // UDP (checksum 0: none).
    out.writeUInt16BE(6000, o)
    out.writeUInt16BE(6000, o + 2)
    out.writeUInt16BE(8 + 12 + samples, o + 4)
    o += 8
    // RTP v2, PT 8, sequence, timestamp, SSRC.
    out[o] = 0x80
    out[o + 1] = 8
    out.writeUInt16BE(i & 0xffff, o + 2)
    out.writeUInt32BE((i * samples) >>> 0, o + 4)
    out.writeUInt32BE(ssrc, o + 8)
    out.fill(ALAW_SILENCE, o + 12, o + 12 + samples)
  }
  writeFileSync(file, out)
}

function ipChecksum (header: Buffer): number {
  let sum = 0
  for (let i = 0; i < header.length; i += 2) sum += header.readUInt16BE(i)
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16)
  return ~sum & 0xffff
}

export interface UdpPacket {
  /** Capture time, ms since the epoch. */
  readonly time: number
  readonly srcPort: number
  readonly dstPort: number
  readonly payload: Buffer
}

/** The IPv4 UDP packets of a pcap file (link types Ethernet, Linux cooked v1/v2, raw IP). */
export function readPcap (file: string): UdpPacket[] {
  const buf = readFileSync(file)
  if (buf.length < 24) return []
  const magic = buf.readUInt32LE(0)
  const le = magic === 0xa1b2c3d4 || magic === 0xa1b23c4d
  if (!le && buf.readUInt32BE(0) !== 0xa1b2c3d4 && buf.readUInt32BE(0) !== 0xa1b23c4d) throw new Error(`${file}: not a pcap file`)
  const nano = (le ? magic : buf.readUInt32BE(0)) === 0xa1b23c4d
  const u32 = (o: number): number => (le ? buf.readUInt32LE(o) : buf.readUInt32BE(o))
  const linktype = u32(20)
  const out: UdpPacket[] = []
  for (let o = 24; o + 16 <= buf.length;) {
    const time = u32(o) * 1000 + u32(o + 4) / (nano ? 1e6 : 1e3)
    const incl = u32(o + 8)
    const frame = buf.subarray(o + 16, o + 16 + incl)
    o += 16 + incl
    let ip: number
    if (linktype === 1) {
      if (frame.length < 14 || frame.readUInt16BE(12) !== 0x0800) continue
      ip = 14
    } else if (linktype === 113) {
      if (frame.length < 16 || frame.readUInt16BE(14) !== 0x0800) continue
      ip = 16
    } else if (linktype === 276) {
      if (frame.length < 20 || frame.readUInt16BE(0) !== 0x0800) continue
      ip = 20
    } else if (linktype === 101 || linktype === 12) {
      ip = 0
    } else {
      throw new Error(`${file}: link type ${linktype} not supported`)
    }
    if (frame.length < ip + 20 || frame[ip]! >> 4 !== 4 || frame[ip + 9] !== 17) continue
    const udp = ip + (frame[ip]! & 0x0f) * 4
    if (frame.length < udp + 8) continue
    const len = frame.readUInt16BE(udp + 4)
    out.push({ time, srcPort: frame.readUInt16BE(udp), dstPort: frame.readUInt16BE(udp + 2), payload: frame.subarray(udp + 8, udp + Math.max(8, len)) })
  }
  return out
}

// ------------------------------------------------------------------------------------------ G.711

function alawToLinear (a: number): number {
  a ^= 0x55
  const seg = (a & 0x70) >> 4
  let t = (a & 0x0f) << 4
  t = seg === 0 ? t + 8 : seg === 1 ? t + 0x108 : (t + 0x108) << (seg - 1)
  return (a & 0x80) !== 0 ? t : -t
}

function ulawToLinear (u: number): number {
  u = ~u & 0xff
  let t = ((u & 0x0f) << 3) + 0x84
  t <<= (u & 0x70) >> 4
  return (u & 0x80) !== 0 ? 0x84 - t : t - 0x84
}

const ALAW = Int16Array.from({ length: 256 }, (_, i) => alawToLinear(i))
const ULAW = Int16Array.from({ length: 256 }, (_, i) => ulawToLinear(i))

/** An RTP packet's payload type and 16-bit samples (G.711 A-law 8 / mu-law 0), or undefined. */
export function decodeRtp (packet: Buffer): { pt: number, samples: Int16Array } | undefined {
  if (packet.length < 12 || packet[0]! >> 6 !== 2) return undefined
  const pt = packet[1]! & 0x7f
  const table = pt === 8 ? ALAW : pt === 0 ? ULAW : undefined
  if (table === undefined) return { pt, samples: new Int16Array(0) }
  let o = 12 + (packet[0]! & 0x0f) * 4
  if ((packet[0]! & 0x10) !== 0 && packet.length >= o + 4) o += 4 + packet.readUInt16BE(o + 2) * 4
  let end = packet.length
  if ((packet[0]! & 0x20) !== 0) end -= packet[end - 1]!
  const body = packet.subarray(o, Math.max(o, end))
  const samples = new Int16Array(body.length)
  for (let i = 0; i < body.length; i++) samples[i] = table[body[i]!]!
  return { pt, samples }
}

export interface PortEnergy {
  /** RTP packets seen. */
  readonly packets: number
  /** Root mean square of every decoded sample (16-bit scale: 0 silence, ~32767 full scale). */
  readonly rms: number
  /** Payload types seen. */
  readonly payloadTypes: number[]
}

/** Loudness of the RTP in `packets` (all of them taken as one stream). */
export function energy (packets: readonly UdpPacket[]): PortEnergy {
  let count = 0
  let sumSq = 0
  let n = 0
  const pts = new Set<number>()
  for (const p of packets) {
    const rtp = decodeRtp(p.payload)
    if (rtp === undefined) continue
    count++
    pts.add(rtp.pt)
    for (const s of rtp.samples) sumSq += s * s
    n += rtp.samples.length
  }
  return { packets: count, rms: n === 0 ? 0 : Math.sqrt(sumSq / n), payloadTypes: [...pts].sort((x, y) => x - y) }
}

/** Loudness of the RTP each destination port received. */
export function energyByPort (packets: readonly UdpPacket[]): Map<number, PortEnergy> {
  const byPort = new Map<number, UdpPacket[]>()
  for (const p of packets) {
    const list = byPort.get(p.dstPort)
    if (list === undefined) byPort.set(p.dstPort, [p])
    else list.push(p)
  }
  return new Map([...byPort].map(([port, list]) => [port, energy(list)]))
}

// ------------------------------------------------------------------------------------------ capture

/** tcpdump on the loopback: UDP packets of the given ports, written to a temp pcap. */
export class Capture {
  private constructor (
    private readonly proc: ChildProcess, private readonly dir: string, private readonly file: string, private readonly exited: Promise<void>,
    /** When tcpdump said it listens (epoch ms): nothing before it was captured. */
    readonly listeningAt: number
  ) {}

  /** Starts tcpdump (UDP to or from any of `ports`) and resolves once it listens. */
  static async start (ports: readonly number[], { iface = 'lo' }: { iface?: string } = {}): Promise<Capture> {
    if (ports.length === 0) throw new Error('Capture: no port')
    const dir = mkdtempSync(join(tmpdir(), 'rtp-capture-'))
    const file = join(dir, 'capture.pcap')
    const filter = `udp and (${ports.map((p) => `port ${p}`).join(' or ')})`
    const proc = spawn('tcpdump', ['-i', iface, '-n', '-U', '-s', '0', '-w', file, filter], { stdio: ['ignore', 'ignore', 'pipe'] })
    let stderr = ''
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()))
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`tcpdump did not start listening within 5 s: ${stderr}`)), 5_000)
      proc.once('error', (e) => { clearTimeout(timer); reject(e) })
      void exited.then(() => { clearTimeout(timer); reject(new Error(`tcpdump exited: ${stderr}`)) })
      proc.stderr?.on('data', (d: Buffer) => {
        stderr += d.toString()
        if (/listening on/.test(stderr)) { clearTimeout(timer); resolve() }
      })
    })
    return new Capture(proc, dir, file, exited, Date.now())
  }

  /** Stops tcpdump and returns what it captured (the temp file is removed). */
  async stop (): Promise<UdpPacket[]> {
    this.proc.kill('SIGINT')
    const t = setTimeout(() => this.proc.kill('SIGKILL'), 3_000)
    await this.exited
    clearTimeout(t)
    try {
      return readPcap(this.file)
    } finally {
      if (process.env.KEEP_RTP_CAPTURE === undefined) rmSync(this.dir, { recursive: true, force: true })
    }
  }
}
