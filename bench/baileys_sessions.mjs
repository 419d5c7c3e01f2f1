// Baileys' counterpart of wa_sessions_bench (bench/sessions/sessions_bench.cc): N Baileys sockets
// in this Node process linked to one wasim, with the same phases and the same measurements.
//
//   node --expose-gc bench/baileys_sessions.mjs --wasim build/release/src/bin/wasim \
//        --sessions 200 --transport wss --idle-seconds 60 --json out.json
//   (or --control http://127.0.0.1:PORT --chat-url ws://127.0.0.1:PORT/ws/chat
//        --ca-file tls-cert.pem --wasim-pid PID for a wasim that is already running)
//
// Phases: phones (create N phones), link (fresh in-memory auth state, first QR -> scan, the 515
// close, a new socket until 'open'), stop (every socket ended; auth states kept), login (a new
// socket per auth state until 'open': a full reconnect and login), send (--messages texts per
// socket to a pool of --recipients phones, as wa_sessions_bench does: the first message of each
// socket, then the others, each until the server's ack; then the recipients' inboxes in wasim are
// matched against the acked ids), idle (S seconds connected: RSS and CPU of this process and of
// wasim, closes seen).
//
// The server's ack: sock.sendMessage resolves once the stanza is written (relayMessage awaits
// sendNode, not the answer), and Baileys handles <ack class="message"> itself only when it
// carries an error (handleBadAck, which then emits messages.update with status ERROR). So the
// tool picks the message id (sendMessage's `messageId` option), listens for the acks on the
// socket's frame emitter ('CB:ack,class:message', where Baileys' own handler listens) and counts
// a send once its ack came back without an error.
//
// Auth state lives in memory (useMultiFileAuthState would add disk I/O to every key write).
// wss trust: an https.Agent with wasim's certificate as CA, passed as Baileys' `agent` (which it
// hands to the ws WebSocket), so NODE_EXTRA_CA_CERTS is not needed. --expose-gc lets the tool
// collect garbage before each memory reading; without it the readings include garbage.
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { Agent } from 'node:https'
import { createRequire } from 'node:module'
import { tmpdir, cpus, loadavg } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'

const interop = new URL('../tests/interop/', import.meta.url)
const require = createRequire(new URL('package.json', interop))
const baileys = await import(new URL('node_modules/baileys/lib/index.js', interop))
const makeWASocket = baileys.default
const { WA_CERT_DETAILS, initAuthCreds, Browsers } = baileys
const pino = require('pino')
const logger = pino({ level: process.env.BAILEYS_LOG ?? 'silent' })

function parseArgs(argv) {
	const o = {
		wasim: '', control: '', chatUrl: '', caFile: '', wasimPid: -1, sessions: 100, transport: 'wss',
		idleSeconds: 60, sampleSeconds: 10, concurrency: 64, phonePrefix: '1800', stepTimeout: 120, json: '',
		messages: 0, recipients: 50, recipientPrefix: '1801', sendConcurrency: 64
	}
	const names = {
		'--wasim': 'wasim', '--control': 'control', '--chat-url': 'chatUrl', '--ca-file': 'caFile',
		'--wasim-pid': 'wasimPid', '--sessions': 'sessions', '--transport': 'transport',
		'--idle-seconds': 'idleSeconds', '--sample-seconds': 'sampleSeconds', '--concurrency': 'concurrency',
		'--phone-prefix': 'phonePrefix', '--step-timeout': 'stepTimeout', '--json': 'json',
		'--messages': 'messages', '--recipients': 'recipients', '--recipient-prefix': 'recipientPrefix',
		'--send-concurrency': 'sendConcurrency'
	}
	for (let i = 0; i < argv.length; i += 2) {
		const key = names[argv[i]]
		if (!key || i + 1 >= argv.length) throw new Error(`unknown or incomplete option ${argv[i]}`)
		o[key] = typeof o[key] === 'number' ? Number(argv[i + 1]) : argv[i + 1]
	}
	if (!['ws', 'wss'].includes(o.transport)) throw new Error('--transport: ws or wss')
	if (!/^[1-9][0-9]{0,7}$/.test(o.phonePrefix)) throw new Error('--phone-prefix: 1-8 digits, no leading 0')
	if (!/^[1-9][0-9]{0,7}$/.test(o.recipientPrefix)) throw new Error('--recipient-prefix: 1-8 digits, no leading 0')
	if (o.messages > 0 && o.recipientPrefix === o.phonePrefix) throw new Error('--recipient-prefix must differ from --phone-prefix')
	if (!(o.messages >= 0) || !(o.recipients >= 0) || !(o.sendConcurrency >= 1)) throw new Error('--messages, --recipients, --send-concurrency')
	if (!(o.sessions >= 1)) throw new Error('--sessions must be at least 1')
	return o
}

// --- /proc readings (the same fields as proc_stats.cc) ---
function readProc(pid) {
	try {
		const status = readFileSync(`/proc/${pid}/status`, 'utf8')
		const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
		const field = key => Number(status.match(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm'))?.[1])
		const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ')  // rest[0] is field 3
		const ticks = Number(rest[14 - 3]) + Number(rest[15 - 3])
		return { rss_kb: field('VmRSS'), hwm_kb: field('VmHWM'), cpu_seconds: Math.round(ticks) / 100 }
	} catch {
		return null
	}
}
// Linux's USER_HZ is 100 on every mainstream configuration; /proc/<pid>/stat counts in it.
const cpuPercent = (a, b, seconds) => (a && b && seconds > 0 ? (100 * (b.cpu_seconds - a.cpu_seconds)) / seconds : null)

function summarize(values) {
	const v = [...values].sort((a, b) => a - b)
	const r = x => Math.round(x * 100) / 100
	if (!v.length) return { count: 0, min: 0, p50: 0, p90: 0, p99: 0, max: 0, mean: 0 }
	const rank = p => v[Math.min(Math.max(Math.ceil((p / 100) * v.length), 1), v.length) - 1]
	return {
		count: v.length, min: r(v[0]), p50: r(rank(50)), p90: r(rank(90)), p99: r(rank(99)),
		max: r(v[v.length - 1]), mean: r(v.reduce((a, b) => a + b, 0) / v.length)
	}
}

const now = () => performance.now()
const sleep = ms => new Promise(r => setTimeout(r, ms))
const gc = () => { if (global.gc) { global.gc(); global.gc() } }

async function forEach(what, n, concurrency, fn) {
	let next = 0
	let finished = 0
	const step = Math.max(Math.floor(n / 10), 1)
	const start = now()
	const worker = async () => {
		while (next < n) {
			const i = next++
			await fn(i)
			if (++finished % step === 0 || finished === n) {
				process.stderr.write(`  ${what} ${finished}/${n} (${((now() - start) / 1000).toFixed(1)} s)\n`)
			}
		}
	}
	await Promise.all(Array.from({ length: Math.min(concurrency, n) }, worker))
}

// --- wasim ---
async function startWasim(bin) {
	const dataDir = mkdtempSync(join(tmpdir(), 'baileys-sessions-wasim-'))
	const proc = spawn(bin, ['--port', '0', '--control-port', '0', '--data-dir', dataDir, '--log-level', 'warn'],
		{ stdio: ['ignore', 'pipe', 'inherit'] })
	const info = { pid: proc.pid }
	await new Promise((resolve, reject) => {
		const timer = setTimeout(() => reject(new Error('wasim did not start in 10 s')), 10000)
		proc.once('exit', code => reject(new Error(`wasim exited with ${code}`)))
		createInterface({ input: proc.stdout }).on('line', line => {
			let m
			if ((m = line.match(/^wasim chat endpoint (\S+)/))) info.chatUrl = m[1]
			if ((m = line.match(/^wasim control API (\S+)/))) info.controlUrl = m[1]
			if ((m = line.match(/^wasim TLS certificate (\S+)/))) {
				info.certPath = m[1]
				clearTimeout(timer)
				resolve()
			}
		})
	})
	info.stop = async () => {
		if (proc.exitCode === null) {
			const exited = new Promise(r => proc.once('exit', r))
			proc.kill('SIGTERM')
			await exited
		}
		rmSync(dataDir, { recursive: true, force: true })
	}
	return info
}

async function control(base, method, path, body) {
	try {
		const res = await fetch(base + path, {
			method,
			headers: body ? { 'content-type': 'application/json' } : {},
			body: body ? JSON.stringify(body) : undefined
		})
		const text = await res.text()
		let json = null
		try { json = text ? JSON.parse(text) : null } catch { json = null }
		return { status: res.status, body: json }
	} catch {
		return { status: 0, body: null }
	}
}

// --- sessions ---
function memoryAuthState() {
	const creds = initAuthCreds()
	const data = new Map()
	return {
		creds,
		keys: {
			async get(type, ids) {
				const out = {}
				for (const id of ids) {
					const v = data.get(`${type}\u0000${id}`)
					if (v !== undefined) out[id] = v
				}
				return out
			},
			async set(update) {
				for (const type in update) {
					for (const id in update[type]) {
						const v = update[type][id]
						if (v) data.set(`${type}\u0000${id}`, v)
						else data.delete(`${type}\u0000${id}`)
					}
				}
			}
		}
	}
}

// One device: its auth state outlives sockets; the rest is the current socket's record.
class Session {
	constructor(index, phone) {
		this.index = index
		this.phone = phone
		this.auth = null
		this.sock = null
		this.failed = false
		this.closedSinceOpen = false
		this.reset()
	}
	reset() {
		this.qr = null
		this.qrs = 0
		this.started = null
		this.pairedAt = null
		this.openAt = null
		this.pendingAt = null
		this.closes = 0
		this.lastClose = null
		this.waiters = []
		this.acks = new Map()  // message id -> resolve(error attribute or null)
	}
	open(config) {
		this.reset()
		this.closedSinceOpen = false
		const sock = makeWASocket({ ...config, auth: this.auth })
		this.sock = sock
		this.started = now()
		sock.ev.on('creds.update', update => Object.assign(this.auth.creds, update))
		sock.ws.on('CB:ack,class:message', node => {
			const resolve = this.acks.get(node.attrs.id)
			if (resolve) { this.acks.delete(node.attrs.id); resolve(node.attrs.error ?? null) }
		})
		sock.ev.on('connection.update', u => {
			if (sock !== this.sock) return
			const t = now()
			if (u.qr) { ++this.qrs; if (!this.qr) this.qr = u.qr }
			if (u.isNewLogin) this.pairedAt = t
			if (u.connection === 'open' && this.openAt === null) this.openAt = t
			if (u.receivedPendingNotifications && this.pendingAt === null) this.pendingAt = t
			if (u.connection === 'close') {
				++this.closes
				this.closedSinceOpen = this.openAt !== null
				this.lastClose = u.lastDisconnect?.error?.output?.statusCode ?? 'unknown'
			}
			for (const w of [...this.waiters]) if (w.pred()) { this.waiters.splice(this.waiters.indexOf(w), 1); w.resolve(true) }
		})
	}
	// Sends a text and waits for the server's ack: null on success, else why not.
	async sendText(jid, text, timeoutMs) {
		const id = '3EB0' + randomBytes(9).toString('hex').toUpperCase()
		let timer
		const acked = new Promise(resolve => {
			this.acks.set(id, resolve)
			timer = setTimeout(() => { this.acks.delete(id); resolve('timeout') }, timeoutMs)
		})
		try {
			await this.sock.sendMessage(jid, { text }, { messageId: id })
		} catch (err) {
			this.acks.delete(id)
			clearTimeout(timer)
			return { id, error: `send: ${err?.message ?? err}` }
		}
		const error = await acked
		clearTimeout(timer)
		return { id, error: error === null ? null : `ack: ${error}` }
	}
	waitFor(pred, timeoutMs) {
		if (pred()) return Promise.resolve(true)
		return new Promise(resolve => {
			const w = { pred, resolve: v => { clearTimeout(timer); resolve(v) } }
			const timer = setTimeout(() => { this.waiters.splice(this.waiters.indexOf(w), 1); resolve(false) }, timeoutMs)
			this.waiters.push(w)
		})
	}
	async end() {
		const sock = this.sock
		if (!sock) return
		const closed = this.closes
		sock.end(undefined)
		await this.waitFor(() => this.closes > closed, 5000)
		this.sock = null
	}
}

// The recipient of socket `i` among `pool` phones (send_check.cc's RecipientPhone).
const recipientPhone = (prefix, i, pool) => prefix + String(pool ? i % pool : i).padStart(7, '0')

// The send phase (the same workload as wa_sessions_bench's): two rounds, the first message of
// every socket and then the others, each socket sending one at a time, then the delivery check.
async function sendPhase(o, sessions, ctl, self, wasimProc) {
	const n = sessions.length
	const pool = o.recipients > 0 ? o.recipients : n
	const k = o.messages
	const ackedIds = Array.from({ length: pool }, () => new Set())
	const errors = {}
	const stats0 = await ctl('GET', '/v1/stats')
	const sinceMs = Date.now() - 1000
	const round = async (what, first, last) => {
		const ms = []
		let attempted = 0
		const self0 = self()
		const wasim0 = wasimProc()
		const t0 = now()
		await forEach(what, n, o.sendConcurrency, async i => {
			const s = sessions[i]
			if (s.failed || s.openAt === null || s.closedSinceOpen || !s.sock) return
			const r = i % pool
			const jid = `${recipientPhone(o.recipientPrefix, i, pool)}@s.whatsapp.net`
			for (let m = first; m < last; ++m) {
				++attempted
				const start = now()
				const sent = await s.sendText(jid, `bench message ${m + 1} of ${k} from session ${i}`, o.stepTimeout * 1000)
				if (sent.error) { errors[sent.error] = (errors[sent.error] ?? 0) + 1; continue }
				ms.push(now() - start)
				ackedIds[r].add(sent.id)
			}
		})
		const seconds = (now() - t0) / 1000
		const self1 = self()
		const wasim1 = wasimProc()
		const out = { attempted, acked: ms.length, seconds, per_second: ms.length / seconds, latency_ms: summarize(ms) }
		if (self0 && self1) {
			const cpu = self1.cpu_seconds - self0.cpu_seconds
			out.cpu_seconds = Math.round(cpu * 100) / 100
			if (ms.length) out.cpu_ms_per_send = Math.round((cpu * 1000 / ms.length) * 1000) / 1000
			if (cpu > 0) out.sends_per_cpu_second = Math.round((ms.length / cpu) * 10) / 10
			out.self_cpu_percent = cpuPercent(self0, self1, seconds)
		}
		if (wasim0 && wasim1) out.wasim_cpu_seconds = Math.round((wasim1.cpu_seconds - wasim0.cpu_seconds) * 100) / 100
		return out
	}
	process.stderr.write(`send: ${k} messages per socket to ${pool} recipients, ${o.sendConcurrency} sockets at a time\n`)
	const out = { messages_per_session: k, recipients: pool, concurrency: o.sendConcurrency }
	out.first = await round('send first', 0, 1)
	if (k > 1) out.rest = await round('send rest', 1, k)
	const parts = [out.first, out.rest].filter(Boolean)
	const acked = parts.reduce((a, p) => a + p.acked, 0)
	const seconds = parts.reduce((a, p) => a + p.seconds, 0)
	const cpu = parts.reduce((a, p) => a + (p.cpu_seconds ?? 0), 0)
	out.all = { acked, seconds, per_second: acked / seconds, cpu_seconds: cpu, sends_per_cpu_second: cpu > 0 ? acked / cpu : 0 }
	out.errors = errors
	// Sockets that closed during the phase (Baileys does not reconnect), by the close's status code.
	const closed = {}
	for (const s of sessions) if (s.closedSinceOpen) closed[s.lastClose] = (closed[s.lastClose] ?? 0) + 1
	out.closed_sockets = closed

	// Delivery: every acked id must show up, decrypted, in its recipient's inbox.
	const expected = ackedIds.reduce((a, ids) => a + ids.size, 0)
	const counted = new Array(pool).fill(null)
	let delivered = 0
	let foreign = 0
	let byEnc = {}
	const verifyStart = now()
	for (;;) {
		delivered = 0
		foreign = 0
		byEnc = {}
		for (let r = 0; r < pool; ++r) {
			if (!ackedIds[r].size) continue
			if (!counted[r] || counted[r].matched < ackedIds[r].size) {
				const a = await ctl('GET', `/v1/phones/${recipientPhone(o.recipientPrefix, r, 0)}/messages?since=${sinceMs}`)
				if (a.status === 200) counted[r] = countInbox(a.body, ackedIds[r])
			}
			if (!counted[r]) continue
			delivered += counted[r].matched
			foreign += counted[r].other
			for (const [e, c] of Object.entries(counted[r].byEnc)) byEnc[e] = (byEnc[e] ?? 0) + c
		}
		if (delivered >= expected || now() - verifyStart >= 60000) break
		await sleep(500)
	}
	out.delivery = { expected, delivered, other_messages_in_inboxes: foreign, by_enc: byEnc, seconds: (now() - verifyStart) / 1000 }
	const stats1 = await ctl('GET', '/v1/stats')
	if (stats0.body && stats1.body) {
		const a = stats0.body
		const b = stats1.body
		const delta = {}
		for (const key of ['messages_routed', 'receipts_routed', 'bundles_served', 'usync_device_queries',
			'phone_decrypt_failures', 'retry_receipts', 'undeliverable']) {
			if (typeof a[key] === 'number' && typeof b[key] === 'number') delta[key] = b[key] - a[key]
		}
		for (const key of ['pkmsg', 'msg']) {
			if (typeof a.enc?.[key] === 'number' && typeof b.enc?.[key] === 'number') delta[`enc_${key}`] = b.enc[key] - a.enc[key]
		}
		out.wasim_counters = delta
	}
	return out
}

// send_check.cc's CountInbox: distinct inbox entries whose id was acked, by encryption.
function countInbox(inbox, expected) {
	const out = { matched: 0, other: 0, byEnc: {} }
	if (!Array.isArray(inbox)) return out
	const seen = new Set()
	for (const e of inbox) {
		if (!e || typeof e !== 'object' || typeof e.id !== 'string') continue
		if (!expected.has(e.id)) { ++out.other; continue }
		if (seen.has(e.id)) continue
		seen.add(e.id)
		++out.matched
		const enc = typeof e.enc === 'string' ? e.enc : '?'
		out.byEnc[enc] = (out.byEnc[enc] ?? 0) + 1
	}
	return out
}

async function main() {
	const o = parseArgs(process.argv.slice(2))
	let wasim
	if (o.wasim) {
		wasim = await startWasim(o.wasim)
	} else if (o.control && o.chatUrl) {
		wasim = { controlUrl: o.control, chatUrl: o.chatUrl, certPath: o.caFile, pid: o.wasimPid, stop: async () => {} }
	} else {
		throw new Error('give --wasim, or --control and --chat-url')
	}
	process.stderr.write(`wasim: chat ${wasim.chatUrl}, control ${wasim.controlUrl}, pid ${wasim.pid}\n`)
	try {
		return await run(o, wasim)
	} finally {
		await wasim.stop()
	}
}

async function run(o, wasim) {
	const n = o.sessions
	const ctl = (method, path, body) => control(wasim.controlUrl, method, path, body)
	const root = await ctl('GET', '/v1/root-key')
	if (root.status !== 200) throw new Error(`wasim's control API does not answer at ${wasim.controlUrl}`)
	WA_CERT_DETAILS.PUBLIC_KEY = Buffer.from(root.body.public_key_hex, 'hex')
	let url = wasim.chatUrl
	let agent
	if (o.transport === 'wss') {
		url = url.replace(/^ws:\/\/127\.0\.0\.1/, 'wss://localhost')
		agent = new Agent({ ca: readFileSync(wasim.certPath) })
	}
	const config = {
		waWebSocketUrl: url,
		agent,
		logger,
		browser: Browsers.macOS('Chrome'),
		printQRInTerminal: false,
		connectTimeoutMs: 60000
	}
	const self = () => readProc(process.pid)
	const wasimProc = () => (wasim.pid > 0 ? readProc(wasim.pid) : null)
	const deadline = () => o.stepTimeout * 1000
	const failures = {}
	const fail = (s, why) => { s.failed = true; failures[why] = (failures[why] ?? 0) + 1 }
	const up = sessions => sessions.filter(s => !s.failed && s.openAt !== null && !s.closedSinceOpen).length
	const out = {
		tool: 'baileys_sessions', sessions: n, transport: o.transport, concurrency: o.concurrency,
		store: 'memory', messages_per_session: o.messages,
		idle_seconds: o.idleSeconds, cores: cpus().length, node: process.version, gc_exposed: Boolean(global.gc),
		load_average_start: loadavg().map(x => x.toFixed(2)).join(' ')
	}
	const phases = {}
	const selfMem = {}
	const wasimMem = {}
	const heap = () => { const m = process.memoryUsage(); return { rss_kb: Math.round(m.rss / 1024), heap_used_kb: Math.round(m.heapUsed / 1024), external_kb: Math.round(m.external / 1024), array_buffers_kb: Math.round(m.arrayBuffers / 1024) } }

	gc()
	const selfStart = self()
	selfMem.start = { ...selfStart, ...heap() }
	wasimMem.start = wasimProc()

	const sessions = Array.from({ length: n }, (_, i) => new Session(i, o.phonePrefix + String(i).padStart(7, '0')))
	process.stderr.write(`phones: creating ${n}\n`)
	let t0 = now()
	await forEach('phones', n, o.concurrency, async i => {
		const s = sessions[i]
		const r = await ctl('POST', '/v1/phones', { phone: s.phone, name: `Bench ${i}` })
		if (r.status !== 201 && r.status !== 409) fail(s, `create_phone_${r.status}`)
	})
	const phonesS = (now() - t0) / 1000
	phases.phones = { seconds: phonesS, per_second: n / phonesS }
	if (o.messages > 0) {
		const pool = o.recipients > 0 ? o.recipients : n
		let errors = 0
		await forEach('recipients', pool, o.concurrency, async i => {
			const r = await ctl('POST', '/v1/phones', { phone: recipientPhone(o.recipientPrefix, i, 0), name: `Recipient ${i}` })
			if (r.status !== 201 && r.status !== 409) ++errors
		})
		if (errors) throw new Error(`${errors} recipient phones could not be created`)
	}
	wasimMem.phones = wasimProc()

	process.stderr.write(`link: ${n} sessions, ${o.concurrency} at a time\n`)
	const linkMs = []
	const scanMs = []
	const pairLoginMs = []
	t0 = now()
	await forEach('link', n, o.concurrency, async i => {
		const s = sessions[i]
		if (s.failed) return
		s.auth = memoryAuthState()
		s.open(config)
		const started = s.started
		if (!(await s.waitFor(() => s.qr || s.closes, deadline())) || !s.qr) return fail(s, 'no_qr')
		const scanStart = now()
		const r = await ctl('POST', `/v1/phones/${s.phone}/scan`, { qr: s.qr })
		if (r.status !== 200) return fail(s, `scan_${r.status}`)
		scanMs.push(now() - scanStart)
		// Baileys does not reconnect by itself: the 515 restart is the application's job.
		if (!(await s.waitFor(() => s.closes > 0, deadline()))) return fail(s, 'no_restart')
		if (s.lastClose !== 515) return fail(s, `closed_${s.lastClose}`)
		const pairedAt = s.pairedAt
		s.open(config)
		if (!(await s.waitFor(() => s.openAt !== null || s.closes > 0, deadline())) || s.openAt === null) {
			return fail(s, 'link_not_open')
		}
		linkMs.push(s.openAt - started)
		if (pairedAt !== null) pairLoginMs.push(s.openAt - pairedAt)
	})
	const linkS = (now() - t0) / 1000
	const linked = up(sessions)
	phases.link = {
		seconds: linkS, linked, per_second: linked / linkS,
		link_ms: summarize(linkMs), scan_ms: summarize(scanMs), login_after_pair_ms: summarize(pairLoginMs)
	}
	gc()
	selfMem.linked = { ...self(), ...heap() }
	wasimMem.linked = wasimProc()

	process.stderr.write(`stop: ${n} sockets\n`)
	t0 = now()
	await forEach('stop', n, o.concurrency, async i => { await sessions[i].end() })
	phases.stop = { seconds: (now() - t0) / 1000 }
	await sleep(1000)
	gc()
	const selfStopped = self()
	const heapStopped = heap()
	selfMem.stopped = { ...selfStopped, ...heapStopped }

	process.stderr.write(`login: ${linked} sessions, ${o.concurrency} at a time\n`)
	const loginMs = []
	const pendingMs = []
	let showedQr = 0
	t0 = now()
	await forEach('login', n, o.concurrency, async i => {
		const s = sessions[i]
		if (s.failed) return
		s.open(config)
		if (!(await s.waitFor(() => s.openAt !== null || s.closes > 0, deadline())) || s.openAt === null) {
			return fail(s, 'login_not_open')
		}
		if (s.qrs > 0) ++showedQr
		loginMs.push(s.openAt - s.started)
		if (await s.waitFor(() => s.pendingAt !== null, 5000)) pendingMs.push(s.pendingAt - s.started)
	})
	const loginS = (now() - t0) / 1000
	await sleep(2000)
	const connected = up(sessions)
	phases.login = {
		seconds: loginS, connected, per_second: connected / loginS, showed_qr: showedQr,
		login_ms: summarize(loginMs), login_to_pending_notifications_ms: summarize(pendingMs)
	}
	gc()
	const selfConnected = self()
	const heapConnected = heap()
	selfMem.connected = { ...selfConnected, ...heapConnected }
	wasimMem.connected = wasimProc()

	if (o.messages > 0) {
		phases.send = await sendPhase(o, sessions, ctl, self, wasimProc)
		gc()
		selfMem.sent = { ...self(), ...heap() }
		wasimMem.sent = wasimProc()
	}

	process.stderr.write(`idle: ${o.idleSeconds} s with ${connected} connected\n`)
	const closesBefore = sessions.reduce((a, s) => a + s.closes, 0)
	const idleStart = now()
	const selfIdle0 = self()
	const wasimIdle0 = wasimProc()
	const samples = []
	let elapsed = 0
	while (elapsed < o.idleSeconds) {
		await sleep(Math.min(o.sampleSeconds, o.idleSeconds - elapsed) * 1000)
		elapsed = (now() - idleStart) / 1000
		samples.push({ t: Math.round(elapsed * 10) / 10, self_rss_kb: self()?.rss_kb, wasim_rss_kb: wasimProc()?.rss_kb })
	}
	const idleS = (now() - idleStart) / 1000
	const selfIdle1 = self()
	const wasimIdle1 = wasimProc()
	const closesAfter = sessions.reduce((a, s) => a + s.closes, 0)
	const stats = await ctl('GET', '/v1/stats')
	const idle = {
		seconds: idleS, connected_at_end: up(sessions), disconnects: closesAfter - closesBefore, samples,
		self_cpu_percent: cpuPercent(selfIdle0, selfIdle1, idleS), wasim_cpu_percent: cpuPercent(wasimIdle0, wasimIdle1, idleS)
	}
	for (const k of ['connections', 'logins', 'pairings', 'idle_closed', 'frames_in', 'frames_out']) {
		if (stats.body && k in stats.body) idle[`wasim_${k}`] = stats.body[k]
	}
	idle.load_average_end = loadavg().map(x => x.toFixed(2)).join(' ')
	phases.idle = idle
	// Garbage collected after the window, so that the end reading compares with the others.
	gc()
	const selfEnd = self()
	selfMem.idle_end = { ...selfEnd, ...heap() }
	wasimMem.idle_end = wasimIdle1

	const per = (a, b, count) => (count ? Math.round(((b - a) / count) * 10) / 10 : 0)
	out.phases = phases
	out.memory = {
		self: selfMem,
		wasim: wasimMem,
		per_session: {
			self_total_kb: per(selfStart.rss_kb, selfEnd.rss_kb, connected),
			self_connection_kb: per(selfStopped.rss_kb, selfConnected.rss_kb, connected),
			self_stores_kb: per(selfStart.rss_kb, selfStopped.rss_kb, connected),
			self_connection_heap_kb: per(heapStopped.heap_used_kb, heapConnected.heap_used_kb, connected),
			wasim_kb: wasimMem.start && wasimIdle1 ? per(wasimMem.start.rss_kb, wasimIdle1.rss_kb, connected) : null
		}
	}
	out.failures = failures

	process.stderr.write(`shutdown: ending ${n} sockets\n`)
	t0 = now()
	await forEach('stop', n, o.concurrency, async i => { await sessions[i].end() })
	out.shutdown_seconds = (now() - t0) / 1000
	agent?.destroy()

	const text = JSON.stringify(out)
	if (o.json) writeFileSync(o.json, text + '\n')
	console.log(text)
	return connected === n && closesAfter === closesBefore ? 0 : 3
}

main().then(code => process.exit(code), err => {
	console.error(`baileys_sessions: ${err.stack ?? err}`)
	process.exit(1)
})
