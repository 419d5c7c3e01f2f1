// Random binary nodes encoded by Baileys, for the C++ codec to check against.
//
//   node binary_gen.mjs --seed S --count N --out FILE
//
// Writes N JSON lines {node, hex[, decoded]}: node in the vectors' notation, hex = Baileys'
// encodeBinaryNode bytes (with the 0x00 flags byte), decoded = what Baileys' decoder returns for
// those bytes when it differs from node (a string content that is not a token, packable or a JID
// comes back as bytes; odd JID strings come back normalised).
//
// The nodes cover: single- and double-byte tokens, NIBBLE_8 / HEX_8 strings up to and past 127
// characters, lower-case hex, free ASCII and UTF-8 strings, "" values, JIDs of every textual form
// (PN, AD with devices incl. :0, agents, LID, hosted, hosted.lid, groups, broadcast, newsletter,
// c.us, bot, msgr, interop, odd device/agent numbers and nested '@'), lists of every size class
// (incl. LIST_16 children lists and LIST_16 node headers) and byte contents of each length class
// (BINARY_32 rare, just over 2^20). A node Baileys cannot decode again is drawn anew.
//
// Never generated, because Baileys and we differ there on purpose (see src/wa/binary/encoder.h):
// '@' in tags or keys, Object.prototype names ("constructor"...) anywhere, integer-like keys
// (a JS object reorders them) and duplicate keys.
import { openSync, writeSync, closeSync } from 'node:fs'
import { encodeBinaryNode } from 'baileys/lib/WABinary/encode.js'
import { decodeDecompressedBinaryNode } from 'baileys/lib/WABinary/decode.js'
import * as constants from 'baileys/lib/WABinary/constants.js'
import { toNotation } from './binary_node_notation.mjs'

function parseArgs(argv) {
	const args = { seed: 1, count: 1000, out: null }
	for (let i = 0; i < argv.length; i += 2) {
		const key = argv[i].replace(/^--/, '')
		if (!(key in args) || i + 1 >= argv.length) {
			console.error('usage: node binary_gen.mjs --seed S --count N --out FILE')
			process.exit(2)
		}
		args[key] = key === 'out' ? argv[i + 1] : Number(argv[i + 1])
	}
	if (!args.out || !Number.isInteger(args.seed) || !Number.isInteger(args.count)) {
		console.error('usage: node binary_gen.mjs --seed S --count N --out FILE')
		process.exit(2)
	}
	return args
}

// mulberry32: small, seeded, the same on every machine.
function makeRng(seed) {
	let a = seed >>> 0
	const next = () => {
		a = (a + 0x6d2b79f5) >>> 0
		let t = a
		t = Math.imul(t ^ (t >>> 15), t | 1)
		t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
		return ((t ^ (t >>> 14)) >>> 0) / 4294967296
	}
	const int = n => Math.floor(next() * n)
	return {
		next,
		int,
		range: (lo, hi) => lo + int(hi - lo + 1),
		chance: p => next() < p,
		pick: arr => arr[int(arr.length)]
	}
}

const SINGLE = constants.SINGLE_BYTE_TOKENS.slice(1)
const DOUBLE = constants.DOUBLE_BYTE_TOKENS.flat()
const PROTO_NAMES = new Set([...Object.getOwnPropertyNames(Object.prototype), '__proto__'])
const INTEGER_LIKE = /^(0|[1-9][0-9]*)$/

export function makeGenerator(seed) {
	const r = makeRng(seed)
	const fromAlphabet = (alphabet, len) => {
		let s = ''
		for (let i = 0; i < len; i++) s += alphabet[r.int(alphabet.length)]
		return s
	}
	const digits = len => fromAlphabet('0123456789', len)
	const phone = () => String(r.range(1, 9)) + digits(r.range(7, 14))
	const lid = () => String(r.range(1, 9)) + digits(14)
	const packedLength = () => (r.chance(0.8) ? r.range(1, 24) : r.chance(0.8) ? r.range(25, 127) : r.range(128, 140))
	const UNICODE = ['é', 'ñ', 'ü', 'ß', 'Ω', 'ж', '中', '文', '😀', '👍🏽', '\u00a0', 'ｚ']
	const ASCII = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 -_.:,;!?()[]{}/#$%&*+=~\'"'

	const freeString = () => {
		const len = r.chance(0.9) ? r.range(1, 30) : r.range(200, 400)
		if (r.chance(0.2)) {
			let s = ''
			while (s.length < len) s += r.chance(0.5) ? r.pick(UNICODE) : fromAlphabet(ASCII, 1)
			return s
		}
		return fromAlphabet(ASCII, len)
	}

	const jidString = () => {
		switch (r.int(24)) {
			case 0: return `${phone()}@s.whatsapp.net`
			case 1: return `${phone()}:${r.range(1, 99)}@s.whatsapp.net`
			case 2: return `${phone()}:0@s.whatsapp.net`
			case 3: return `${lid()}@lid`
			case 4: return `${lid()}:${r.range(0, 99)}@lid`
			case 5: return `${phone()}:${r.range(0, 99)}@hosted`
			case 6: return `${lid()}:${r.range(0, 99)}@hosted.lid`
			case 7: return `${phone()}@hosted`
			case 8: return `${phone()}_${r.pick([0, 1, 128, 129, r.int(256)])}:${r.range(0, 255)}@s.whatsapp.net`
			case 9: return `${phone()}_${r.range(0, 255)}@s.whatsapp.net`
			case 10: return `${phone()}-${digits(10)}@g.us`
			case 11: return `1203630${digits(11)}@g.us`
			case 12: return r.chance(0.5) ? 'status@broadcast' : `${digits(10)}@broadcast`
			case 13: return `${digits(18)}@newsletter`
			case 14: return '@s.whatsapp.net'
			case 15: return r.pick(['server@c.us', '0@c.us', '16505361212@c.us', `${phone()}@c.us`])
			case 16: return `1313555${digits(4)}@bot`
			case 17: return `${digits(15)}:${r.range(0, 300)}@msgr`
			case 18: return `${digits(15)}@msgr`
			case 19: return `${r.range(0, 65535)}-${digits(10)}:${r.range(0, 300)}@interop`
			case 20: return `${r.pick(['abc', 'ABC', 'iq', 'x.y', '1'])}@${r.pick(['s.whatsapp.net', 'lid', 'g.us', 'xyz'])}`
			case 21: {
				// Device strings through JS ToNumber.
				const dev = r.pick(['x', ' 7 ', '0x1f', '0b101', '0o17', '1e2', '-1', '300', '2.9', 'Infinity', '+4', '.5', '1_2', '\u00a012'])
				return `${phone()}:${dev}@${r.pick(['s.whatsapp.net', 'lid', 'g.us'])}`
			}
			case 22: {
				// Agent strings through parseInt.
				const agent = r.pick(['abc', '0x81', '-2', ' 3z', '12.9', '999', '1e3', '0x', '+7'])
				return `${phone()}_${agent}:${r.range(0, 255)}@s.whatsapp.net`
			}
			default:
				// More than one '@' or ':' (Baileys nests a JID in the server).
				return r.pick([`${phone()}@${phone()}@s.whatsapp.net`, `a@b@c@d`, `${phone()}:1:2@lid`, `x_1_2:3@y`])
		}
	}

	const value = () => {
		const k = r.next()
		if (k < 0.15) return r.pick(SINGLE)
		if (k < 0.25) return r.pick(DOUBLE)
		if (k < 0.38) return fromAlphabet('0123456789-.', packedLength())
		if (k < 0.46) return fromAlphabet('0123456789ABCDEF', packedLength())
		if (k < 0.5) return fromAlphabet('0123456789abcdef', r.range(1, 40))
		if (k < 0.52) return ''
		if (k < 0.75) return jidString()
		return freeString()
	}

	const safe = s => !PROTO_NAMES.has(s) && !s.includes('@')
	const tag = () => {
		for (;;) {
			const k = r.next()
			const t = k < 0.5 ? r.pick(SINGLE) : k < 0.7 ? r.pick(DOUBLE) : k < 0.8 ? fromAlphabet('0123456789', r.range(1, 6)) : freeString()
			if (t && safe(t)) return t
		}
	}
	const key = () => {
		for (;;) {
			const k = r.next()
			const s = k < 0.6 ? r.pick(SINGLE) : k < 0.8 ? r.pick(DOUBLE) : k < 0.98 ? freeString() : ''
			if (safe(s) && !INTEGER_LIKE.test(s)) return s
		}
	}
	const bytes = allowHuge => {
		let len
		const k = r.next()
		if (allowHuge && k < 0.0004) len = (1 << 20) + r.int(64)
		else if (k < 0.7) len = r.int(41)
		else if (k < 0.9) len = r.range(200, 300)
		else len = r.range(256, 5000)
		const b = Buffer.alloc(len)
		for (let i = 0; i < len; i++) b[i] = r.int(256)
		return b
	}
	const valueSafe = () => {
		for (;;) {
			const v = value()
			if (!PROTO_NAMES.has(v)) return v
		}
	}

	const genNode = (depth, root) => {
		const node = { tag: tag(), attrs: {} }
		const n = r.chance(0.002) ? r.range(150, 170) : r.int(7)
		for (let i = 0; i < n; i++) {
			const k = key()
			if (!(k in node.attrs)) node.attrs[k] = valueSafe()
		}
		const k = r.next()
		if (depth < 5 && k < 0.35) {
			const big = r.chance(0.003)
			const count = big ? r.range(256, 270) : r.int(5)
			node.content = []
			for (let i = 0; i < count; i++) node.content.push(big ? genLeaf() : genNode(depth + 1, false))
		} else if (k < 0.6) {
			node.content = bytes(root)
		} else if (k < 0.75) {
			node.content = valueSafe()
		}
		return node
	}
	const genLeaf = () => ({ tag: tag(), attrs: r.chance(0.5) ? { [key()]: valueSafe() } : {} })

	return { node: () => genNode(0, true) }
}

function main() {
	const args = parseArgs(process.argv.slice(2))
	const gen = makeGenerator(args.seed)
	const fd = openSync(args.out, 'w')
	let redrawn = 0
	for (let i = 0; i < args.count; ) {
		const node = gen.node()
		let hex, decoded
		try {
			const bytes = encodeBinaryNode(node)
			decoded = decodeDecompressedBinaryNode(bytes.subarray(1), constants)
			hex = bytes.toString('hex')
		} catch (err) {
			redrawn++
			continue
		}
		const n = toNotation(node)
		const d = toNotation(decoded)
		const line = { node: n, hex }
		if (JSON.stringify(d) !== JSON.stringify(n)) line.decoded = d
		writeSync(fd, JSON.stringify(line) + '\n')
		i++
	}
	closeSync(fd)
	console.error(`binary_gen: ${args.count} nodes (seed ${args.seed}, ${redrawn} redrawn) -> ${args.out}`)
}

if (import.meta.url === `file://${process.argv[1]}`) main()
