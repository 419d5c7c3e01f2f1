// Shared by binary_gen.mjs, binary_verify.mjs and bench/baileys_codec.mjs: the node notation of
// the protocol vectors, {tag, attrs: [[k, v], ...], content: null | {string} | {bytes_hex} | [..]},
// and conversions to and from Baileys' BinaryNode.

export function toNotation(node) {
	let content = null
	if (Array.isArray(node.content)) {
		content = node.content.map(toNotation)
	} else if (typeof node.content === 'string') {
		content = { string: node.content }
	} else if (node.content instanceof Uint8Array) {
		content = { bytes_hex: Buffer.from(node.content).toString('hex') }
	}
	return { tag: node.tag, attrs: Object.entries(node.attrs || {}), content }
}

export function fromNotation(n) {
	const attrs = {}
	for (const [k, v] of n.attrs) attrs[k] = v
	const node = { tag: n.tag, attrs }
	if (Array.isArray(n.content)) {
		node.content = n.content.map(fromNotation)
	} else if (n.content && typeof n.content.string === 'string') {
		node.content = n.content.string
	} else if (n.content && typeof n.content.bytes_hex === 'string') {
		node.content = Buffer.from(n.content.bytes_hex, 'hex')
	}
	return node
}

// Reads a JSON-lines file without holding one giant string (BINARY_32 payloads make big lines).
export async function* readJsonLines(path) {
	const { createReadStream } = await import('node:fs')
	const { createInterface } = await import('node:readline')
	const rl = createInterface({ input: createReadStream(path), crlfDelay: Infinity })
	for await (const line of rl) {
		if (line.length) yield JSON.parse(line)
	}
}
