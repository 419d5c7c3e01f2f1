// wasim's history sync with an independent client: phone A holds a real conversation with phone B
// (messages exchanged before the link) and two seeded ones; Baileys links to A, downloads every
// chunk wasim announces (its own downloadHistory: md-msg-hist keys, inflate, HistorySync.decode)
// and its `messaging-history.set` events must carry exactly the conversations and messages wasim
// says it sent; wasim records Baileys' hist_sync receipt for every notification.
//
// Baileys fetches history blobs from https://mmg.whatsapp.net/<direct path> whatever the media
// host: this process's fetch is pointed at wasim's media host for that name (the test bed has no
// other network). Runs under with_wasim_tls.mjs so that Node trusts wasim's certificate.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { rmSync } from 'node:fs'
import { startWasim, trustRoot, connectBaileys, closeStatus, tempDir } from './wasim_harness.mjs'

const A = '15550005555'
const B = '15550006666'

let sim
let authDir
const realFetch = globalThis.fetch

before(async () => {
	if (!process.env.NODE_EXTRA_CA_CERTS) {
		throw new Error('run this suite under with_wasim_tls.mjs (see tests/interop/CMakeLists.txt)')
	}
	sim = await startWasim()
	trustRoot(sim.rootKey)
	authDir = tempDir('baileys-history-')
	globalThis.fetch = (url, options) =>
		realFetch(String(url).replace(/^https:\/\/mmg\.whatsapp\.net(?=\/)/, sim.mediaUrl), options)
})
after(async () => {
	globalThis.fetch = realFetch
	await sim?.stop()
	if (authDir) rmSync(authDir, { recursive: true, force: true })
})

async function until(what, fn, timeoutMs = 30000) {
	const deadline = Date.now() + timeoutMs
	for (;;) {
		const v = await fn()
		if (v) return v
		if (Date.now() > deadline) throw new Error(`timed out waiting for ${typeof what === 'function' ? what() : what}`)
		await new Promise(r => setTimeout(r, 50))
	}
}

test('Baileys parses wasim history chunks into the same conversations and messages', async () => {
	for (const [phone, name] of [[A, 'Alice'], [B, 'Bob']]) {
		const r = await sim.control('POST', '/v1/phones', { phone, name })
		assert.equal(r.status, 201, JSON.stringify(r.body))
	}
	const sent = []
	for (const [from, to, text] of [[B, A, 'hi Alice'], [A, B, 'hi Bob'], [B, A, 'how are you']]) {
		const r = await sim.control('POST', `/v1/phones/${from}/messages`, { to, text })
		assert.equal(r.status, 201, JSON.stringify(r.body))
		sent.push({ id: r.body.id, fromMe: from === A, text })
	}
	await until('A has B\'s messages', async () =>
		(await sim.control('GET', `/v1/phones/${A}/messages`)).body.length >= 2)
	const seed = await sim.control('POST', `/v1/phones/${A}/history`,
		{ conversations: 2, messages: 3, chunk_conversations: 2 })
	assert.equal(seed.status, 200, JSON.stringify(seed.body))

	// Link by QR; the history arrives on the socket after the 515 restart.
	const first = await connectBaileys(sim, authDir)
	const { qr } = await first.waitFor(u => u.qr, 15000, 'a QR code')
	const scan = await sim.control('POST', `/v1/phones/${A}/scan`, { qr })
	assert.equal(scan.status, 200, JSON.stringify(scan.body))
	await first.waitFor(u => closeStatus(u) === 515, 15000, 'the 515 restart')
	const client = await connectBaileys(sim, authDir)
	const sets = []
	client.sock.ev.on('messaging-history.set', set => sets.push(set))
	try {
		await client.waitFor(u => u.connection === 'open', 15000, 'connection open')
		// INITIAL_BOOTSTRAP (2 chats), RECENT (1 chat), PUSH_NAME: every one receipted.
		const history = await until('hist_sync receipts for every notification', async () => {
			const h = (await sim.control('GET', `/v1/phones/${A}/history`)).body
			return h.notifications.length === 3 && h.receipts.length >= 3 && h
		})
		assert.deepEqual(history.receipts.map(r => r.id).sort(), history.notifications.map(n => n.id).sort())
		const wantChats = history.notifications.reduce((n, x) => n + x.conversations, 0)
		const wantMessages = history.notifications.reduce((n, x) => n + x.messages, 0)
		assert.equal(wantChats, 3)
		assert.equal(wantMessages, 3 + 2 * 3)

		await until(() => `Baileys' history sets (so far, [type, chats, messages, contacts]: ${
			JSON.stringify(sets.map(s => [s.syncType, s.chats.length, s.messages.length, s.contacts.length]))})`, () =>
			sets.reduce((n, s) => n + s.messages.length, 0) >= wantMessages &&
			sets.some(s => s.contacts.some(c => c.notify)))
		const chats = new Set(sets.flatMap(s => s.chats.map(c => c.id)))
		assert.deepEqual([...chats].sort(),
			[`${B}@s.whatsapp.net`, '19990000000@s.whatsapp.net', '19990000001@s.whatsapp.net'].sort())
		const messages = sets.flatMap(s => s.messages)
		assert.equal(messages.length, wantMessages)
		// The real conversation, message by message: ids, direction and text as wasim routed them.
		const real = messages.filter(m => m.key.remoteJid === `${B}@s.whatsapp.net`)
		assert.deepEqual(
			real.map(m => ({ id: m.key.id, fromMe: !!m.key.fromMe, text: m.message?.conversation })).sort((a, b) => a.id.localeCompare(b.id)),
			sent.map(s => ({ id: s.id, fromMe: s.fromMe, text: s.text })).sort((a, b) => a.id.localeCompare(b.id)))
		// A seeded one.
		const seeded = messages.filter(m => m.key.remoteJid === '19990000001@s.whatsapp.net')
			.map(m => m.message?.conversation).sort()
		assert.deepEqual(seeded, [0, 1, 2].map(i => `seed message ${i} in chat 1`))
		// Baileys' sync types come from the chunks (INITIAL_BOOTSTRAP 0, RECENT 3, PUSH_NAME 4). While
		// it awaits its initial sync Baileys buffers events and merges history sets into one that
		// carries the last chunk's type, so only membership can be asserted here; the type of every
		// chunk is checked on wasim's side here and by the client's own history tests.
		assert.deepEqual(history.notifications.map(n => n.sync_type).sort(),
			['INITIAL_BOOTSTRAP', 'PUSH_NAME', 'RECENT'])
		const types = sets.map(s => s.syncType)
		assert.ok(types.length > 0 && types.every(t => [0, 3, 4].includes(t)), JSON.stringify(types))
		// PUSH_NAME: Bob's name.
		const names = sets.flatMap(s => s.contacts).filter(c => c.notify)
		assert.deepEqual(names.map(c => [c.id, c.notify]), [[`${B}@s.whatsapp.net`, 'Bob']])
	} finally {
		client.end()
		first.end()
	}
})
