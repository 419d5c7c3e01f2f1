// Prints the sessions benchmark's results (JSON files of wa_sessions_bench and
// bench/baileys_sessions.mjs) as markdown: one table per transport, ours beside Baileys with the
// ratio where both exist, and the issues' targets.
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
	['process RSS at idle end, MiB', r => (get(r, 'memory.self.idle_end.rss_kb') ?? 0) / 1024],
	['process peak RSS (VmHWM), MiB', r => (get(r, 'memory.self.idle_end.hwm_kb') ?? 0) / 1024],
	['CPU per link, ms (CPU time of the process)', r => cpuPer(r, 'start', 'linked', 'phases.link.linked')],
	['CPU per connect-and-login, ms', r => cpuPer(r, 'stopped', 'connected', 'phases.login.connected')],
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

const transports = [...new Set(runs.map(r => r.transport))]
for (const t of transports) {
	const ours = runs.find(r => r.transport === t && r.tool === 'wa_sessions_bench')
	const theirs = runs.find(r => r.transport === t && r.tool === 'baileys_sessions')
	console.log(`### ${t}: ${ours ? `${ours.sessions} wa::Client sessions` : 'no wa::Client run'}, ` +
		`${theirs ? `${theirs.sessions} Baileys sockets` : 'no Baileys run'} (concurrency ${(ours ?? theirs).concurrency}, ` +
		`idle ${(ours ?? theirs).idle_seconds} s)\n`)
	console.log('| | wa::Client | Baileys | ours / Baileys |')
	console.log('|---|---:|---:|---:|')
	for (const [name, f, total] of rows) {
		const a = ours ? f(ours) : undefined
		const b = theirs ? f(theirs) : undefined
		const show = (v, r) => (total && r ? `${v ?? '—'} / ${total(r)}` : fmt(v))
		const perSession = name.includes('per session') || name.includes(' ms') || name.startsWith('CPU per')
		console.log(`| ${name} | ${ours ? show(a, ours) : '—'} | ${theirs ? show(b, theirs) : '—'} | ${perSession ? ratio(a, b) : ''} |`)
	}
	if (ours) {
		const total = get(ours, 'memory.per_session.self_total_kb')
		const mine = get(ours, 'memory.self.idle_end.rss_kb')
		console.log('')
		console.log(`Targets: per-session memory at most 1/20 of Baileys' — whole process ` +
			`${theirs ? ratio(total, get(theirs, 'memory.per_session.self_total_kb')) : '—'}, connection only ` +
			`${theirs ? ratio(get(ours, 'memory.per_session.self_connection_kb'), get(theirs, 'memory.per_session.self_connection_kb')) : '—'} ` +
			`(target <= 0.050); 10,000 sessions under 4 GiB: ${ours.sessions} sessions used ` +
			`${fmt((mine ?? 0) / 1024)} MiB, ${fmt(((total ?? 0) * 10000) / 1024 / 1024)} GiB extrapolated to 10,000.`)
	}
	if (ours?.failures && Object.keys(ours.failures).length) console.log(`\nwa::Client failures: ${JSON.stringify(ours.failures)}`)
	if (theirs?.failures && Object.keys(theirs.failures).length) console.log(`\nBaileys failures: ${JSON.stringify(theirs.failures)}`)
	console.log('')
}
