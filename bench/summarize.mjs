// Summary table of scripts/run-benchmarks.sh: medians over the repetitions of ours and Baileys'
// numbers, their ratio, the range of the per-repetition ratios (ours and Baileys' of the same
// repetition ran back to back, under the same load) and the targets.
//
//   node bench/summarize.mjs RAW_DIR
//
// RAW_DIR holds, for repetition r = 1..N: codec-cpp-r.json and noise-cpp-r.json (Google Benchmark
// --benchmark_format=json), codec-baileys-r.jsonl and noise-baileys-r.jsonl (the --json lines of
// bench/baileys_codec.mjs and bench/baileys_noise.mjs) and load-r.txt (/proc/loadavg before it).
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'

const dir = process.argv[2]
if (!dir) {
	console.error('usage: node bench/summarize.mjs RAW_DIR')
	process.exit(2)
}

const reps = []
for (let r = 1; existsSync(join(dir, `codec-cpp-${r}.json`)); r++) {
	const cpp = {}
	const baileys = {}
	for (const file of [`codec-cpp-${r}.json`, `noise-cpp-${r}.json`]) {
		const path = join(dir, file)
		if (!existsSync(path)) continue
		for (const b of JSON.parse(readFileSync(path, 'utf8')).benchmarks) {
			cpp[b.name] = b['nodes/s'] ?? b.items_per_second
			if (b['bytes/s'] !== undefined) cpp[`${b.name} MiB/s`] = b['bytes/s'] / (1 << 20)
		}
	}
	for (const file of [`codec-baileys-${r}.jsonl`, `noise-baileys-${r}.jsonl`]) {
		const path = join(dir, file)
		if (!existsSync(path)) continue
		for (const line of readFileSync(path, 'utf8').split('\n')) {
			if (!line.trim()) continue
			const m = JSON.parse(line)
			baileys[m.name] = m.rate
			if (m.mib_per_s !== undefined) baileys[`${m.name} MiB/s`] = m.mib_per_s
		}
	}
	const loadPath = join(dir, `load-${r}.txt`)
	const load = existsSync(loadPath) ? readFileSync(loadPath, 'utf8').split(' ').slice(0, 3).join(' ') : '?'
	reps.push({ cpp, baileys, load })
}
if (reps.length === 0) {
	console.error(`no results in ${dir}`)
	process.exit(1)
}

const median = xs => {
	const s = xs.filter(x => Number.isFinite(x)).sort((a, b) => a - b)
	if (s.length === 0) return NaN
	const mid = s.length >> 1
	return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2
}
const fmt = x => {
	if (!Number.isFinite(x)) return '—'
	if (x >= 1e6) return `${(x / 1e6).toFixed(2)}M`
	if (x >= 1e4) return `${(x / 1e3).toFixed(0)}k`
	if (x >= 100) return x.toFixed(0)
	return x.toFixed(1)
}

// [label, unit, our key, Baileys' key (or null), target ratio (or null)]
const rows = [
	['codec encode, 10,000 nodes', 'nodes/s', 'BM_EncodeAll', 'encode', 10],
	['codec encode (MiB/s of frames)', 'MiB/s', 'BM_EncodeAll MiB/s', 'encode MiB/s', null],
	['codec decode, 10,000 nodes', 'nodes/s', 'BM_DecodeAll', 'decode', 10],
	['codec decode (MiB/s of frames)', 'MiB/s', 'BM_DecodeAll MiB/s', 'decode MiB/s', null],
	['codec encode into a reused buffer', 'nodes/s', 'BM_EncodeAllReusedBuffer', null, null],
	['Noise handshake, client side', 'handshakes/s', 'BM_InitiatorHandshake', 'handshake', null],
	['Noise handshake, both roles (C++ only)', 'handshakes/s', 'BM_Handshake', null, null],
	['transport seal+frame, 64 B', 'frames/s', 'BM_TransportSealFrame/64', 'seal+frame 64', null],
	['transport seal+frame, 1 KiB', 'frames/s', 'BM_TransportSealFrame/1024', 'seal+frame 1024', null],
	['transport seal+frame, 16 KiB', 'frames/s', 'BM_TransportSealFrame/16384', 'seal+frame 16384', null],
	['transport seal+open, 64 B', 'frames/s', 'BM_TransportSealOpen/64', null, null],
	['transport seal+open, 1 KiB', 'frames/s', 'BM_TransportSealOpen/1024', null, null],
	['transport seal+open, 16 KiB', 'frames/s', 'BM_TransportSealOpen/16384', null, null],
	['frame reader, 64 B frames', 'frames/s', 'BM_FrameReader/64', null, null],
	['frame reader, 1 KiB frames', 'frames/s', 'BM_FrameReader/1024', null, null]
]

console.log(`${reps.length} repetitions; load average (1/5/15 min) before each: ${reps.map(r => r.load).join('; ')}`)
console.log('')
console.log('| benchmark | unit | ours (median) | Baileys (median) | ours / Baileys | per-repetition ratios | target |')
console.log('|---|---|---:|---:|---:|---|---|')
let missed = 0
for (const [label, unit, ourKey, theirKey, target] of rows) {
	const ours = median(reps.map(r => r.cpp[ourKey]))
	if (!Number.isFinite(ours)) continue
	let theirs = NaN
	let ratio = NaN
	let range = ''
	if (theirKey) {
		theirs = median(reps.map(r => r.baileys[theirKey]))
		ratio = ours / theirs
		const per = reps.map(r => r.cpp[ourKey] / r.baileys[theirKey]).filter(Number.isFinite)
		if (per.length) range = `${Math.min(...per).toFixed(1)}x – ${Math.max(...per).toFixed(1)}x`
	}
	let verdict = ''
	if (target) {
		const met = ratio >= target
		if (!met) missed++
		verdict = `>= ${target}x: ${met ? 'met' : 'NOT met'}`
	}
	const ratioText = Number.isFinite(ratio) ? `${ratio.toFixed(1)}x` : '—'
	console.log(`| ${label} | ${unit} | ${fmt(ours)} | ${fmt(theirs)} | ${ratioText} | ${range} | ${verdict} |`)
}
console.log('')
console.log(missed === 0 ? 'All targets met.' : `${missed} target(s) not met.`)
