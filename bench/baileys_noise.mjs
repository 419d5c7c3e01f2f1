// Baileys' side of the Noise benchmarks, on the handshakes recorded by src/wa/noise/handshake_bench.cc
// (the file named by WA_NOISE_TRANSCRIPTS there; bench/run-noise-bench.sh makes it and runs both).
//
//   node bench/baileys_noise.mjs TRANSCRIPTS [SECONDS] [--json]
//
// handshake: the client's whole share of a handshake as lib/Socket/socket.js runs it — a fresh
//   Curve.generateKeyPair() (dropped: a recorded server hello answers the recorded ephemeral key,
//   which the handler is given instead), makeNoiseHandler, the framed client hello, decodeFrame of
//   the framed server hello, processHandshake (three X25519, two decryptions, the certificate
//   chain decoded and its two signatures computed by libsignal), the encrypted payload, the
//   framed client finish, finishInit. Same work as BM_InitiatorHandshake; no server work on
//   either side. Before timing, every replayed client finish is checked against the C++ one.
// seal+frame N: encodeFrame of an N-byte plaintext after the handshake (AES-GCM seal and the
//   3-byte length), as BM_TransportSealFrame/N.
//
// Baileys' trust root WA_CERT_DETAILS.PUBLIC_KEY is replaced in memory by the recorded root
// (tests/interop/noise_interop.mjs does the same); node_modules is never edited. Rates are per
// CPU second of this process (user + system), as Google Benchmark reports ours. --json prints one
// JSON object per line instead (for scripts/run-benchmarks.sh).
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'

const interop = new URL('../tests/interop/', import.meta.url)
const require = createRequire(new URL('package.json', interop))
const { Curve, NOISE_WA_HEADER, WA_CERT_DETAILS, makeNoiseHandler, proto } = await import(
	new URL('node_modules/baileys/lib/index.js', interop)
)
const pino = require('pino')

const args = process.argv.slice(2)
const json = args.includes('--json')
const [path, secondsArg] = args.filter(a => a !== '--json')
const seconds = Number(secondsArg || 3)
if (!path) {
	console.error('usage: node bench/baileys_noise.mjs TRANSCRIPTS [SECONDS] [--json]')
	process.exit(2)
}

const hex = s => Buffer.from(s, 'hex')
const doc = JSON.parse(readFileSync(path, 'utf8'))
const noiseKey = { private: hex(doc.client_static_private), public: hex(doc.client_static_public) }
const payload = hex(doc.payload)
const transcripts = doc.transcripts.map(t => ({
	keyPair: { private: hex(t.ephemeral_private), public: hex(t.ephemeral_public) },
	serverFrame: hex(t.server_frame),
	clientFinish: hex(t.client_finish)
}))
WA_CERT_DETAILS.PUBLIC_KEY = hex(doc.root_public)
const logger = pino({ level: 'silent' })

// One client handshake; returns the handler (in transport mode) and the client finish it sent.
async function clientHandshake(t) {
	const fresh = Curve.generateKeyPair() // what a connection makes; see the header comment
	if (fresh.public.length !== 32) throw new Error('bad key pair')
	const noise = makeNoiseHandler({ keyPair: t.keyPair, NOISE_HEADER: NOISE_WA_HEADER, logger })
	const hello = proto.HandshakeMessage.fromObject({ clientHello: { ephemeral: t.keyPair.public } })
	const helloFrame = noise.encodeFrame(proto.HandshakeMessage.encode(hello).finish())
	if (helloFrame.length === 0) throw new Error('empty frame')
	let received = null
	await noise.decodeFrame(t.serverFrame, frame => (received = frame))
	if (!received) throw new Error('server hello frame not cut')
	const keyEnc = noise.processHandshake(proto.HandshakeMessage.decode(received), noiseKey)
	const payloadEnc = noise.encrypt(payload)
	const finish = proto.HandshakeMessage.encode({ clientFinish: { static: keyEnc, payload: payloadEnc } }).finish()
	const finishFrame = noise.encodeFrame(finish)
	if (finishFrame.length === 0) throw new Error('empty frame')
	await noise.finishInit()
	return { noise, finish }
}

// Repeats `op` (awaited when `async`) for at least SECONDS after one warm-up call.
async function measure(name, unit, op, async) {
	await op()
	let ops = 0
	const startWall = process.hrtime.bigint()
	const startCpu = process.cpuUsage()
	let wall = 0
	while (wall < seconds) {
		if (async) {
			for (let k = 0; k < 16; k++) await op()
		} else {
			for (let k = 0; k < 16; k++) op()
		}
		ops += 16
		wall = Number(process.hrtime.bigint() - startWall) / 1e9
	}
	const used = process.cpuUsage(startCpu)
	const cpu = (used.user + used.system) / 1e6
	const rate = ops / cpu
	if (json) {
		console.log(JSON.stringify({ name, unit, rate, ops, cpu_s: cpu }))
		return
	}
	console.log(`${name.padEnd(16)} ${((cpu / ops) * 1e6).toFixed(2).padStart(10)} us CPU/op ` +
		`(${((wall / ops) * 1e6).toFixed(2)} us wall)  ${rate.toFixed(0).padStart(10)} ${unit}/s`)
}

if (!json) console.log(`baileys 7.0.0-rc14, node ${process.version}: ${transcripts.length} recorded server hellos`)
// The replay must give the recorded answer, or the numbers measure something else.
for (const t of transcripts) {
	const { finish } = await clientHandshake(t)
	if (!Buffer.from(finish).equals(t.clientFinish)) {
		console.error('replayed client finish differs from the C++ recording')
		process.exit(1)
	}
}
let i = 0
await measure('handshake', 'handshakes', () => clientHandshake(transcripts[i++ % transcripts.length]), true)
const { noise } = await clientHandshake(transcripts[0])
for (const size of [64, 1024, 16384]) {
	const plaintext = Buffer.alloc(size, 0x17)
	await measure(`seal+frame ${size}`, 'frames', () => noise.encodeFrame(plaintext), false)
}
