// Baileys checks the nodes the C++ codec encoded (binary_crosscheck gen).
//
//   node binary_verify.mjs FILE
//
// FILE: JSON lines {node, hex, decoded, baileys_encodable}. For each line Baileys decodes hex and
// the result must equal `decoded` (our decoder's view) exactly, and `node` (what was built) up to
// the one documented change: a string content that is not a token, packable or a JID travels as
// BINARY_n and comes back as bytes. When baileys_encodable is true, Baileys' encodeBinaryNode on
// node's strings must also give exactly hex. Exit code 0 = no mismatch.
import { isDeepStrictEqual } from 'node:util'
import { encodeBinaryNode } from 'baileys/lib/WABinary/encode.js'
import { decodeDecompressedBinaryNode } from 'baileys/lib/WABinary/decode.js'
import * as constants from 'baileys/lib/WABinary/constants.js'
import { fromNotation, readJsonLines, toNotation } from './binary_node_notation.mjs'

const path = process.argv[2]
if (!path) {
	console.error('usage: node binary_verify.mjs FILE')
	process.exit(2)
}

// `built` as Baileys' decoder would show it: string content -> bytes when it travelled raw.
function matchesBuilt(decoded, built) {
	if (decoded.tag !== built.tag || !isDeepStrictEqual(decoded.attrs, built.attrs)) return false
	const d = decoded.content
	const b = built.content
	if (Array.isArray(b)) {
		return Array.isArray(d) && d.length === b.length && d.every((child, i) => matchesBuilt(child, b[i]))
	}
	if (b && typeof b.string === 'string' && d && typeof d.bytes_hex === 'string') {
		return Buffer.from(b.string, 'utf8').toString('hex') === d.bytes_hex
	}
	return isDeepStrictEqual(d, b)
}

const tallies = {
	decode: { what: "Baileys cannot decode our bytes", n: 0 },
	view: { what: "Baileys' decode != our decoder's view", n: 0 },
	built: { what: "Baileys' decode != the node we built", n: 0 },
	encode: { what: "Baileys' encode(node) != our bytes", n: 0 }
}
const clip = s => (s.length > 600 ? s.slice(0, 600) + '...' : s)
function fail(kind, line, detail) {
	const t = tallies[kind]
	if (++t.n <= 5) console.error(`line ${line}: ${t.what}: ${clip(detail)}`)
}

let count = 0
let encodable = 0
for await (const entry of readJsonLines(path)) {
	count++
	const bytes = Buffer.from(entry.hex, 'hex')
	let decoded
	try {
		decoded = toNotation(decodeDecompressedBinaryNode(bytes.subarray(1), constants))
	} catch (err) {
		fail('decode', count, `${err.message} in ${entry.hex}`)
		continue
	}
	if (!isDeepStrictEqual(decoded, entry.decoded)) {
		fail('view', count, `baileys ${JSON.stringify(decoded)}\n  ours    ${JSON.stringify(entry.decoded)}`)
	}
	if (!matchesBuilt(decoded, entry.node)) {
		fail('built', count, `baileys ${JSON.stringify(decoded)}\n  built   ${JSON.stringify(entry.node)}`)
	}
	if (entry.baileys_encodable) {
		encodable++
		const hex = encodeBinaryNode(fromNotation(entry.node)).toString('hex')
		if (hex !== entry.hex) fail('encode', count, `baileys ${hex}\n  ours    ${entry.hex}`)
	}
}

let total = 0
for (const t of Object.values(tallies)) {
	if (t.n) console.error(`${t.n} x ${t.what}`)
	total += t.n
}
console.error(`binary_verify: ${count} nodes (${encodable} also encoded by Baileys), ${total} mismatches`)
process.exit(total === 0 && count > 0 ? 0 : 1)
