// Baileys' encodeBinaryNode / decodeBinaryNode throughput on the same node file as
// src/wa/binary/codec_bench.cc (JSON lines from tests/interop/binary_gen.mjs).
//
//   node bench/baileys_codec.mjs FILE [SECONDS] [--json]
//
// Each measurement repeats whole passes over the file for at least SECONDS (default 3) after one
// warm-up pass, and reports nodes/s and bytes/s (frame bytes) per CPU second. Decoding uses the synchronous
// decodeDecompressedBinaryNode on the bytes after the 0x00 flags byte (what decodeBinaryNode does
// for an uncompressed frame, without its promise). --json prints one JSON object per line instead
// (for scripts/run-benchmarks.sh).
const base = new URL('../tests/interop/node_modules/baileys/lib/WABinary/', import.meta.url)
const { encodeBinaryNode } = await import(new URL('encode.js', base))
const { decodeDecompressedBinaryNode } = await import(new URL('decode.js', base))
const constants = await import(new URL('constants.js', base))
const { fromNotation, readJsonLines } = await import(new URL('../tests/interop/binary_node_notation.mjs', import.meta.url))

const args = process.argv.slice(2)
const json = args.includes('--json')
const [path, secondsArg] = args.filter(a => a !== '--json')
const seconds = Number(secondsArg || 3)
if (!path) {
	console.error('usage: node bench/baileys_codec.mjs FILE [SECONDS] [--json]')
	process.exit(2)
}

const nodes = []
const hexes = []
let totalBytes = 0
for await (const entry of readJsonLines(path)) {
	nodes.push(fromNotation(entry.node))
	hexes.push(entry.hex)
	totalBytes += entry.hex.length / 2
}
// The frames back to back in one buffer, as they arrive in a receive buffer (and as
// src/wa/binary/codec_bench.cc holds them); each frame is a view of it.
const stream = Buffer.from(hexes.join(''), 'hex')
const frames = []
for (let at = 0, i = 0; i < hexes.length; i++) {
	const size = hexes[i].length / 2
	frames.push(stream.subarray(at, at + size))
	at += size
}

// Rates are per CPU second of this process (user + system), as Google Benchmark reports ours,
// so that a busy machine skews neither side; wall time is shown too.
function measure(name, pass) {
	pass()
	let passes = 0
	const startWall = process.hrtime.bigint()
	const startCpu = process.cpuUsage()
	let wall = 0
	while (wall < seconds) {
		pass()
		passes++
		wall = Number(process.hrtime.bigint() - startWall) / 1e9
	}
	const used = process.cpuUsage(startCpu)
	const cpu = (used.user + used.system) / 1e6
	const nodesPerSec = (passes * nodes.length) / cpu
	const mibPerSec = (passes * totalBytes) / cpu / (1 << 20)
	if (json) {
		console.log(JSON.stringify({ name, unit: 'nodes', rate: nodesPerSec, mib_per_s: mibPerSec, passes, cpu_s: cpu }))
		return
	}
	console.log(`${name.padEnd(8)} ${(cpu / passes * 1000).toFixed(1).padStart(8)} ms CPU/pass ` +
		`(${(wall / passes * 1000).toFixed(1)} ms wall)  ` +
		`${Math.round(nodesPerSec).toLocaleString('en-US').padStart(10)} nodes/s  ${mibPerSec.toFixed(1).padStart(7)} MiB/s`)
}

if (!json) console.log(`baileys 7.0.0-rc14, node ${process.version}: ${nodes.length} nodes, ${totalBytes} frame bytes`)
measure('encode', () => {
	for (const node of nodes) encodeBinaryNode(node)
})
measure('decode', () => {
	for (const frame of frames) decodeDecompressedBinaryNode(frame.subarray(1), constants)
})
