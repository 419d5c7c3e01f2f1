// Prints the sessions benchmark's results (JSON files of wa_sessions_bench and
// bench/baileys_sessions.mjs) as markdown: one table per transport, ours (one column per store:
// sqlite, memory) beside Baileys with the ratios where both exist, and the issues' targets.
//   node bench/summarize_sessions.mjs wa-wss.json baileys-wss.json [...]
import { readFileSync } from 'node:fs'

const files = process.argv.slice(2)
if (!files.length) {
	console.error('usage: node bench/summarize_sessions.mjs RESULT.json...')
	process.exit(2)
}
const runs = []
for (const f of files) {
	try {
		runs.push(JSON.parse(readFileSync(f, 'utf8')))
	} catch (err) {
		console.error(`summarize_sessions: skipping ${f}: ${err.message}`)
	}
}
const fmt = v => (v === undefined || v === null || Number.isNaN(v) ? '—' : Math.abs(v) >= 100 ? v.toFixed(0) : v.toFixed(1))
const ratio = (a, b) => (a == null || b == null || !b ? '—' : `${(a / b).toFixed(3)}`)
const kb = v => (v == null ? null : v)
const get = (run, path) => path.split('.').reduce((o, k) => (o == null ? undefined : o[k]), run)

// Heap in use (allocated, not counting freed memory the allocator keeps) per connected session,
// between "every client stopped" and "every session connected again": malloc's in-use bytes for
// ours, V8's heapUsed plus external (Buffers) for Baileys.
function connectionHeap(r) {
	if (r.tool === 'wa_sessions_bench') return get(r, 'memory.per_session.self_connection_heap_kb')
	const a = get(r, 'memory.self.stopped')
	const b = get(r, 'memory.self.connected')
	const n = get(r, 'phases.login.connected')
	if (!a || !b || !n) return null
	return (b.heap_used_kb + b.external_kb - a.heap_used_kb - a.external_kb) / n
}

// CPU seconds of the process between two memory readings, per session, in ms.
function cpuPer(r, from, to, countPath) {
	const a = get(r, `memory.self.${from}.cpu_seconds`)
	const b = get(r, `memory.self.${to}.cpu_seconds`)
	const n = get(r, countPath)
	return a == null || b == null || !n ? null : ((b - a) * 1000) / n
}

// A send round's figure (phases.send.first / .rest / .all).
const send = (part, key) => r => get(r, `phases.send.${part}.${key}`)

// The same between two other readings (whole process: start to idle end; stored state: start
// to every client stopped).
function heapBetween(r, from, to, oursKey) {
	if (r.tool === 'wa_sessions_bench') return get(r, `memory.per_session.${oursKey}`)
	const a = get(r, `memory.self.${from}`)
	const b = get(r, `memory.self.${to}`)
	const n = get(r, 'phases.login.connected')
	if (!a || !b || !n || a.heap_used_kb == null || b.heap_used_kb == null) return null
	return (b.heap_used_kb + b.external_kb - a.heap_used_kb - a.external_kb) / n
}

const rows = [
	['sessions connected (of N)', r => get(r, 'phases.login.connected'), r => r.sessions, 'n'],
	['phones created per s', r => get(r, 'phases.phones.per_second')],
	['link (new device, QR scan to Connected/open) p50 ms', r => get(r, 'phases.link.link_ms.p50')],
	['link p99 ms', r => get(r, 'phases.link.link_ms.p99')],
	['login after pairing (515 restart) p50 ms', r => get(r, 'phases.link.login_after_pair_ms.p50')],
	['login after pairing p99 ms', r => get(r, 'phases.link.login_after_pair_ms.p99')],
	['connect-and-login (stored credentials) p50 ms', r => get(r, 'phases.login.login_ms.p50')],
	['connect-and-login p99 ms', r => get(r, 'phases.login.login_ms.p99')],
	['logins per s (whole round)', r => get(r, 'phases.login.per_second')],
	['RSS per session, whole process, KB', r => kb(get(r, 'memory.per_session.self_total_kb'))],
	['RSS per session, connection only, KB', r => kb(get(r, 'memory.per_session.self_connection_kb'))],
	['heap per session, connection only, KB', connectionHeap],
	['RSS per session, stored state (keys), KB', r => kb(get(r, 'memory.per_session.self_stores_kb'))],
	['heap per session, whole process, KB', r => heapBetween(r, 'start', 'idle_end', 'self_total_heap_kb')],
	['heap per session, stored state, KB', r => heapBetween(r, 'start', 'stopped', 'self_stores_heap_kb')],
	['process RSS at idle end, MiB', r => (get(r, 'memory.self.idle_end.rss_kb') ?? 0) / 1024],
	['process peak RSS (VmHWM), MiB', r => (get(r, 'memory.self.idle_end.hwm_kb') ?? 0) / 1024],
	['CPU per link, ms (CPU time of the process)', r => cpuPer(r, 'start', 'linked', 'phases.link.linked')],
	['CPU per connect-and-login, ms', r => cpuPer(r, 'stopped', 'connected', 'phases.login.connected')],
	['messages per session (send phase)', r => get(r, 'phases.send.messages_per_session')],
	['sends acked (of attempted)', send('all', 'acked'), r => (get(r, 'phases.send.first.attempted') ?? 0) + (get(r, 'phases.send.rest.attempted') ?? 0), 'n'],
	['delivered: decrypted by the recipient phone (of acked)', r => get(r, 'phases.send.delivery.delivered'), r => get(r, 'phases.send.delivery.expected'), 'n'],
	['first message (devices, bundles, pkmsg) p50 ms', send('first', 'latency_ms.p50')],
	['first message p99 ms', send('first', 'latency_ms.p99')],
	['later messages (existing session) p50 ms', send('rest', 'latency_ms.p50')],
	['later messages p99 ms', send('rest', 'latency_ms.p99')],
	['sends per s, all (wall)', send('all', 'per_second')],
	['CPU per send, first message, ms', send('first', 'cpu_ms_per_send')],
	['CPU per send, later messages, ms', send('rest', 'cpu_ms_per_send')],
	['sends per CPU-second, first messages', send('first', 'sends_per_cpu_second')],
	['sends per CPU-second, later messages', send('rest', 'sends_per_cpu_second')],
	['sends per CPU-second, all (sends per core)', send('all', 'sends_per_cpu_second')],
	['wasim: decrypt failures + retry receipts in the send phase', r => {
		const c = get(r, 'phases.send.wasim_counters')
		return c ? (c.phone_decrypt_failures ?? 0) + (c.retry_receipts ?? 0) : null
	}],
	['process CPU at idle, % of a core', r => get(r, 'phases.idle.self_cpu_percent')],
	['idle CPU per session, % of a core x 1000', r => {
		const c = get(r, 'phases.idle.self_cpu_percent')
		const n = get(r, 'phases.login.connected')
		return c == null || !n ? null : (1000 * c) / n
	}],
	['disconnects during idle', r => get(r, 'phases.idle.disconnects')],
	['wasim RSS at idle end, MiB', r => (get(r, 'memory.wasim.idle_end.rss_kb') ?? 0) / 1024],
	['wasim CPU at idle, % of a core', r => get(r, 'phases.idle.wasim_cpu_percent')]
]

// Whether the ours / Baileys ratio means something for a row (per-unit figures, not totals).
const comparable = name => name.includes('per session,') || name.includes(' ms') || name.startsWith('CPU per') ||
	name.startsWith('sends per') || name.startsWith('idle CPU per')
const storeOrder = store => (store === 'sqlite' ? 0 : store === 'memory' ? 1 : 2)

const transports = [...new Set(runs.map(r => r.transport))]
for (const t of transports) {
	const oursAll = runs.filter(r => r.transport === t && r.tool === 'wa_sessions_bench')
		.sort((a, b) => storeOrder(a.store ?? 'memory') - storeOrder(b.store ?? 'memory'))
	const ours = oursAll[0]
	const theirs = runs.find(r => r.transport === t && r.tool === 'baileys_sessions')
	const label = r => `wa::Client (${r.store ?? 'memory'} state)`
	console.log(`### ${t}: ${ours ? `${ours.sessions} wa::Client sessions` : 'no wa::Client run'}, ` +
		`${theirs ? `${theirs.sessions} Baileys sockets` : 'no Baileys run'} (concurrency ${(ours ?? theirs).concurrency}, ` +
		`idle ${(ours ?? theirs).idle_seconds} s)\n`)
	const oursCols = oursAll.length ? oursAll : [null]
	console.log(`| | ${oursCols.map(r => (r ? label(r) : 'wa::Client')).join(' | ')} | Baileys | ` +
		`${oursCols.map(r => (r ? `${r.store ?? 'memory'} / Baileys` : 'ours / Baileys')).join(' | ')} |`)
	console.log(`|---|${oursCols.map(() => '---:|').join('')}---:|${oursCols.map(() => '---:|').join('')}`)
	for (const [name, f, total] of rows) {
		const b = theirs ? f(theirs) : undefined
		const show = (v, r) => (total && r ? `${v ?? '—'} / ${total(r) ?? '—'}` : fmt(v))
		const cells = oursCols.map(r => (r ? show(f(r), r) : '—'))
		const ratios = oursCols.map(r => (r && comparable(name) ? ratio(f(r), b) : ''))
		console.log(`| ${name} | ${cells.join(' | ')} | ${theirs ? show(b, theirs) : '—'} | ${ratios.join(' | ')} |`)
	}
	for (const ours of oursAll) {
		const total = get(ours, 'memory.per_session.self_total_kb')
		const mine = get(ours, 'memory.self.idle_end.rss_kb')
		console.log('')
		const sendsPerCore = get(ours, 'phases.send.all.sends_per_cpu_second')
		const theirSendsPerCore = theirs ? get(theirs, 'phases.send.all.sends_per_cpu_second') : null
		console.log(`Targets (${label(ours)}): per-session memory at most 1/20 of Baileys' — whole process ` +
			`${theirs ? ratio(total, get(theirs, 'memory.per_session.self_total_kb')) : '—'}, connection only ` +
			`${theirs ? ratio(get(ours, 'memory.per_session.self_connection_kb'), get(theirs, 'memory.per_session.self_connection_kb')) : '—'} ` +
			`(target <= 0.050); 10,000 sessions under 4 GiB: ${ours.sessions} sessions used ` +
			`${fmt((mine ?? 0) / 1024)} MiB, ${fmt(((total ?? 0) * 10000) / 1024 / 1024)} GiB extrapolated to 10,000` +
			(sendsPerCore != null ? `; sends per core at least 10x Baileys': ${ratio(sendsPerCore, theirSendsPerCore)}x` : '') + '.')
	}
	for (const ours of oursAll) {
		if (ours.failures && Object.keys(ours.failures).length) console.log(`\n${label(ours)} failures: ${JSON.stringify(ours.failures)}`)
		const errors = get(ours, 'phases.send.errors')
		if (errors && Object.keys(errors).length) console.log(`\n${label(ours)} send errors: ${JSON.stringify(errors)}`)
	}
	const theirErrors = theirs ? get(theirs, 'phases.send.errors') : null
	if (theirErrors && Object.keys(theirErrors).length) console.log(`\nBaileys send errors: ${JSON.stringify(theirErrors)}`)
	const theirClosed = theirs ? get(theirs, 'phases.send.closed_sockets') : null
	if (theirClosed && Object.keys(theirClosed).length) console.log(`\nBaileys sockets closed during the send phase (by status code): ${JSON.stringify(theirClosed)}`)
	if (theirs?.failures && Object.keys(theirs.failures).length) console.log(`\nBaileys failures: ${JSON.stringify(theirs.failures)}`)
	console.log('')
}
