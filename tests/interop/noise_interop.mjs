// Baileys' noise handler (the initiator, driven exactly as lib/Socket/socket.js drives it) against
// our C++ responder (noise_responder.cc) over the child's stdin/stdout.
//
//   node noise_interop.mjs /path/to/noise_responder
//
// Baileys' trust root WA_CERT_DETAILS.PUBLIC_KEY is replaced in memory by a root generated here
// (Baileys reads it at verification time); node_modules is never edited.
//
// Baileys 7.0.0-rc14 does not really check certificate signatures: its Curve.verify wraps
// libsignal's verifySignature in try/catch and returns true unless it *throws*, but
// verifySignature reports a bad signature by *returning* false. So as shipped, Baileys accepts a
// chain from any root (run "wrong-root-as-shipped" pins that down, so a fixed Baileys shows up
// here). Runs marked strictVerify replace Curve.verify, in memory, by one that honours
// libsignal's answer: that is how we prove libsignal accepts our signatures and rejects a chain
// from the wrong root.
//
// Exit code 0 = every run passed.
import { spawn } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import {
	Curve,
	NOISE_WA_HEADER,
	WA_CERT_DETAILS,
	encodeBinaryNode,
	generateRegistrationNode,
	generateSignalPubKey,
	initAuthCreds,
	makeNoiseHandler,
	proto
} from 'baileys'
import * as libsignalCurve from 'libsignal/src/curve.js'
import pino from 'pino'

const responderPath = process.argv[2]
if (!responderPath) {
	console.error('usage: node noise_interop.mjs /path/to/noise_responder')
	process.exit(2)
}
const logger = pino({ level: 'silent' })
const TIMEOUT_MS = 60_000

// Same definition as noise_responder.cc's Pattern().
const pattern = (i, direction) => {
	const len = i % 100 === 99 ? 70000 : (i * 7919) % 1500
	const b = Buffer.alloc(len)
	const d = direction.charCodeAt(0)
	for (let j = 0; j < len; j++) b[j] = (i * 31 + j * 7 + d) & 0xff
	return b
}

const nextTick = () => new Promise(resolve => setImmediate(resolve))

const libsignalVerify = (pubKey, message, signature) => {
	try {
		return libsignalCurve.verifySignature(generateSignalPubKey(pubKey), message, signature) === true
	} catch {
		return false
	}
}

// Installs the in-memory patches of one run and returns a function that removes them.
function patchBaileys({ trustedRoot, strictVerify, onChain }) {
	const saved = { key: WA_CERT_DETAILS.PUBLIC_KEY, verify: Curve.verify, decode: proto.CertChain.decode }
	WA_CERT_DETAILS.PUBLIC_KEY = Buffer.from(trustedRoot)
	if (strictVerify) Curve.verify = libsignalVerify
	proto.CertChain.decode = function (...args) {
		const chain = saved.decode.apply(this, args)
		onChain(chain)
		return chain
	}
	return () => {
		WA_CERT_DETAILS.PUBLIC_KEY = saved.key
		Curve.verify = saved.verify
		proto.CertChain.decode = saved.decode
	}
}

// One connection. expect: 'ok' (full handshake and transport), 'accepted' (Baileys accepts the
// handshake; stop there) or a RegExp the rejection message must match.
async function runConnection({ name, frames = 0, routingInfo, wrongRoot, strictVerify, intermediateIssuer, expect }) {
	const signingRoot = Curve.generateKeyPair()
	const trustedRoot = wrongRoot ? Curve.generateKeyPair() : signingRoot
	let chain = null
	const unpatch = patchBaileys({ trustedRoot: trustedRoot.public, strictVerify, onChain: c => (chain = c) })

	const args = ['--root-private', Buffer.from(signingRoot.private).toString('hex'), '--frames', String(frames)]
	if (intermediateIssuer !== undefined) args.push('--intermediate-issuer', String(intermediateIssuer))
	const child = spawn(responderPath, args, { stdio: ['pipe', 'pipe', 'pipe'] })
	let stderr = ''
	child.stderr.on('data', d => (stderr += d))
	const exited = new Promise(resolve => child.on('exit', (code, signal) => resolve({ code, signal })))
	child.stdin.on('error', () => {}) // the responder may exit first in the negative runs

	const creds = initAuthCreds()
	const ephemeral = Curve.generateKeyPair()
	const noise = makeNoiseHandler({ keyPair: ephemeral, NOISE_HEADER: NOISE_WA_HEADER, logger, routingInfo })

	// Frames as Baileys delivers them: raw bytes during the handshake, decoded nodes afterwards.
	const received = []
	let wake = null
	let failure = null
	const onFrame = frame => {
		received.push(frame)
		if (wake) wake()
	}
	// socket.js does not await decodeFrame; chaining the calls keeps delivery order deterministic.
	let queue = Promise.resolve()
	child.stdout.on('data', data => {
		queue = queue.then(() => noise.decodeFrame(data, onFrame)).catch(err => {
			failure = failure || err
			if (wake) wake()
		})
	})
	const nextFrame = async () => {
		const deadline = Date.now() + TIMEOUT_MS
		while (received.length === 0) {
			if (failure) throw failure
			if (Date.now() > deadline) throw new Error(`timed out waiting for a frame; responder: ${stderr}`)
			await new Promise(resolve => {
				wake = resolve
				setTimeout(resolve, 100)
			})
			wake = null
		}
		return received.shift()
	}
	const send = bytes => child.stdin.write(bytes)

	try {
		// Handshake, in socket.js's validateConnection order.
		send(noise.encodeFrame(proto.HandshakeMessage.encode({ clientHello: { ephemeral: ephemeral.public } }).finish()))
		const handshake = proto.HandshakeMessage.decode(await nextFrame())
		let keyEnc
		try {
			keyEnc = noise.processHandshake(handshake, creds.noiseKey)
		} catch (err) {
			if (!(expect instanceof RegExp)) throw err
			if (!expect.test(err.message)) throw new Error(`rejected for the wrong reason: ${err.message}`)
			child.stdin.end()
			const { code } = await exited
			if (code === 0) throw new Error('responder claims success after a rejected handshake')
			return `Baileys rejected the chain ("${err.message}"), responder exit ${code}`
		}
		if (expect instanceof RegExp) throw new Error('Baileys accepted a chain it had to reject')

		// The chain our responder sent really is (in)valid under the trusted root, per libsignal.
		if (!chain?.intermediate?.details) throw new Error('no certificate chain captured')
		const intermediateOk = libsignalVerify(trustedRoot.public, chain.intermediate.details, chain.intermediate.signature)
		if (intermediateOk === Boolean(wrongRoot)) {
			throw new Error(`libsignal says the intermediate signature is ${intermediateOk ? 'valid' : 'invalid'}`)
		}
		const { key } = proto.CertChain.NoiseCertificate.Details.decode(chain.intermediate.details)
		if (!libsignalVerify(key, chain.leaf.details, chain.leaf.signature)) {
			throw new Error('libsignal rejects the leaf signature')
		}
		if (expect === 'accepted') {
			child.stdin.end()
			await exited
			return 'Baileys accepted a chain libsignal rejects (the known rc14 Curve.verify bug)'
		}

		const config = {
			version: [2, 3000, 1023223821],
			browser: ['Ubuntu', 'Chrome', '22.04.4'],
			countryCode: 'US',
			syncFullHistory: false
		}
		const payload = proto.ClientPayload.encode(generateRegistrationNode(creds, config)).finish()
		const payloadEnc = noise.encrypt(payload)
		send(noise.encodeFrame(proto.HandshakeMessage.encode({ clientFinish: { static: keyEnc, payload: payloadEnc } }).finish()))
		await noise.finishInit()

		// Client -> server, concurrently with the server's frames: frames 0-2 of every ten split
		// into three writes (one cut inside the length prefix), 3-7 coalesced into one write, the
		// rest whole.
		const sender = (async () => {
			let pending = []
			for (let i = 0; i < frames; i++) {
				const wire = noise.encodeFrame(encodeBinaryNode({ tag: 'noisetest', attrs: {}, content: pattern(i, 'c') }))
				const slot = i % 10
				if (slot <= 2) {
					const cut = 1 + (wire.length >> 1)
					send(wire.subarray(0, 2))
					await nextTick()
					send(wire.subarray(2, cut))
					await nextTick()
					send(wire.subarray(cut))
				} else if (slot <= 7) {
					pending.push(wire)
					if (slot === 7 || i + 1 === frames) {
						send(Buffer.concat(pending))
						pending = []
					}
				} else {
					send(wire)
				}
				if (i % 50 === 0) await nextTick()
			}
		})()

		// The responder's report of what it learned from the handshake.
		const report = await nextFrame()
		const expected = Buffer.concat([
			Buffer.from(creds.noiseKey.public),
			createHash('sha256').update(payload).digest(),
			routingInfo || Buffer.alloc(0)
		])
		if (report.tag !== 'noisetest' || !Buffer.from(report.content).equals(expected)) {
			throw new Error(`responder report mismatch: ${Buffer.from(report.content || []).toString('hex')}`)
		}
		for (let i = 0; i < frames; i++) {
			const node = await nextFrame()
			if (node.tag !== 'noisetest' || !Buffer.from(node.content).equals(pattern(i, 's'))) {
				throw new Error(`server frame ${i} mismatch`)
			}
		}
		await sender
		child.stdin.end()
		const { code, signal } = await exited
		if (code !== 0) throw new Error(`responder exit ${code} ${signal || ''}: ${stderr}`)
		if (failure) throw failure
		return `handshake + ${frames} frames each way OK`
	} finally {
		unpatch()
		child.kill()
	}
}

const runs = [
	{ name: 'plain-header', frames: 1000, expect: 'ok' },
	{ name: 'ed-routing-info-strict', frames: 100, routingInfo: randomBytes(11), strictVerify: true, expect: 'ok' },
	{ name: 'wrong-root-strict', wrongRoot: true, strictVerify: true, expect: /intermediate certificate signature invalid/ },
	{ name: 'wrong-root-as-shipped', wrongRoot: true, expect: 'accepted' },
	{ name: 'bad-intermediate-issuer', intermediateIssuer: 5, expect: /certification match failed/ }
]
let ok = true
for (const run of runs) {
	try {
		console.log(`${run.name}: ${await runConnection(run)}`)
	} catch (err) {
		ok = false
		console.error(`FAIL ${run.name}: ${err.stack || err}`)
	}
}
process.exit(ok ? 0 : 1)
