// Helpers for interop tests against a real wasim process: start it on free ports in a temporary
// data dir, talk to its control API, and make Baileys sockets that trust its Noise root.
import { spawn } from 'node:child_process'
import { copyFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import makeWASocket, { WA_CERT_DETAILS, useMultiFileAuthState, Browsers } from 'baileys'
import pino from 'pino'

export const logger = pino({ level: process.env.BAILEYS_LOG ?? 'silent' })

// `extraArgs` are appended to wasim's command line (e.g. ['--idle-timeout', '1']). When
// WASIM_TLS_DIR names a folder with tls-cert.pem and tls-key.pem (with_wasim_tls.mjs sets it, and
// NODE_EXTRA_CA_CERTS to that certificate), wasim gets that TLS identity, so that this process
// trusts its HTTPS media host and wss:// endpoint.
export async function startWasim(extraArgs = []) {
	const bin = process.env.WA_WASIM_BIN
	if (!bin) throw new Error('WA_WASIM_BIN must name the wasim binary')
	const dataDir = mkdtempSync(join(tmpdir(), 'wasim-'))
	const tlsDir = process.env.WASIM_TLS_DIR
	if (tlsDir && existsSync(join(tlsDir, 'tls-cert.pem'))) {
		for (const name of ['tls-cert.pem', 'tls-key.pem']) copyFileSync(join(tlsDir, name), join(dataDir, name))
	}
	const proc = spawn(bin, ['--port', '0', '--control-port', '0', '--data-dir', dataDir,
		'--log-level', process.env.WASIM_LOG ?? 'warn', ...extraArgs], { stdio: ['ignore', 'pipe', 'inherit'] })
	const lines = createInterface({ input: proc.stdout })
	const info = {}
	await new Promise((resolve, reject) => {
		const timer = setTimeout(() => reject(new Error('wasim did not start in 10 s')), 10000)
		proc.once('exit', code => reject(new Error(`wasim exited with ${code}`)))
		lines.on('line', line => {
			let m
			if ((m = line.match(/^wasim chat endpoint (\S+)/))) info.chatUrl = m[1]
			if ((m = line.match(/^wasim control API (\S+)/))) info.controlUrl = m[1]
			if ((m = line.match(/^wasim noise root public key ([0-9a-f]{64})/))) info.rootKey = m[1]
			if ((m = line.match(/^wasim media host (\S+)/))) info.mediaUrl = m[1]
			if ((m = line.match(/^wasim TLS certificate (\S+)/))) {
				info.certPath = m[1]
				clearTimeout(timer)
				resolve()
			}
		})
	})
	return {
		...info,
		dataDir,
		proc,
		async stop() {
			if (proc.exitCode === null) {
				const exited = new Promise(r => proc.once('exit', r))
				proc.kill('SIGTERM')
				await exited
			}
			rmSync(dataDir, { recursive: true, force: true })
		},
		async control(method, path, body) {
			const res = await fetch(info.controlUrl + path, {
				method,
				headers: body ? { 'content-type': 'application/json' } : {},
				body: body ? JSON.stringify(body) : undefined
			})
			const text = await res.text()
			return { status: res.status, contentType: res.headers.get('content-type'), body: text ? JSON.parse(text) : null }
		}
	}
}

// Baileys verifies the server's certificate chain against WA_CERT_DETAILS.PUBLIC_KEY; point it at
// the simulator's root for the life of this process.
export function trustRoot(rootKeyHex) {
	WA_CERT_DETAILS.PUBLIC_KEY = Buffer.from(rootKeyHex, 'hex')
}

// A Baileys socket on the simulator, with its auth state in `authDir`. Resolves the events the
// tests wait for through `waitFor`.
export async function connectBaileys(sim, authDir) {
	const { state, saveCreds } = await useMultiFileAuthState(authDir)
	const sock = makeWASocket({
		waWebSocketUrl: sim.chatUrl,
		auth: state,
		logger,
		browser: Browsers.macOS('Chrome'),
		printQRInTerminal: false,
		markOnlineOnConnect: false,
		syncFullHistory: false,
		connectTimeoutMs: 10000,
		defaultQueryTimeoutMs: 10000,
		keepAliveIntervalMs: 5000
	})
	sock.ev.on('creds.update', saveCreds)
	const updates = recorder(sock, 'connection.update')
	return {
		sock,
		state,
		events: updates.seen,
		waitFor(match, timeoutMs = 15000, what = 'connection update') {
			return updates.waitFor(match, what, timeoutMs)
		},
		end() {
			sock.end(undefined)
		}
	}
}

export function closeStatus(update) {
	return update.connection === 'close' ? update.lastDisconnect?.error?.output?.statusCode : undefined
}

export function tempDir(prefix) {
	return mkdtempSync(join(tmpdir(), prefix))
}

// Links a new Baileys companion to `phone` by QR, lets it restart after the 515 and resolves the
// second socket once it is open.
export async function linkByQr(sim, phone, authDir) {
	const first = await connectBaileys(sim, authDir)
	const { qr } = await first.waitFor(u => u.qr, 15000, 'a QR code')
	const scan = await sim.control('POST', `/v1/phones/${phone}/scan`, { qr })
	if (scan.status !== 200) throw new Error(`scan failed: ${JSON.stringify(scan.body)}`)
	await first.waitFor(u => closeStatus(u) === 515, 15000, 'the 515 restart')
	const client = await connectBaileys(sim, authDir)
	await client.waitFor(u => u.connection === 'open', 15000, 'connection open')
	return client
}

// Records one Baileys event (`name`) of `sock` and resolves waits on it.
export function recorder(sock, name) {
	const seen = []
	const waiters = []
	sock.ev.on(name, value => {
		const items = Array.isArray(value) ? value : value?.messages ?? [value]
		for (const item of items) {
			seen.push(item)
			for (const w of [...waiters]) {
				if (w.match(item)) {
					waiters.splice(waiters.indexOf(w), 1)
					w.resolve(item)
				}
			}
		}
	})
	return {
		seen,
		waitFor(match, what, timeoutMs = 15000) {
			const found = seen.find(match)
			if (found) return Promise.resolve(found)
			return new Promise((resolve, reject) => {
				const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), timeoutMs)
				waiters.push({ match, resolve: v => { clearTimeout(timer); resolve(v) } })
			})
		}
	}
}
