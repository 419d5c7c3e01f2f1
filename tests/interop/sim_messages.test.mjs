// wasim's messaging with an independent client: Baileys, linked to phone A, exchanges end-to-end
// encrypted text with phone B (both directions, pkmsg first, then msg), sees delivery and read
// receipts, gets what was sent while it was offline when it reconnects, and subscribes to
// presence. What wasim saw on the way is checked through GET /v1/messages/{id}.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { rmSync } from 'node:fs'
import makeWASocket, { useMultiFileAuthState, Browsers } from 'baileys'
import { startWasim, trustRoot, closeStatus, tempDir, logger, recorder } from './wasim_harness.mjs'

const A = '15550001111'
const B = '15550002222'
const DELIVERY_ACK = 3 // proto.WebMessageInfo.Status
const READ = 4

let sim
let authDir
before(async () => {
	sim = await startWasim()
	trustRoot(sim.rootKey)
	authDir = tempDir('baileys-auth-')
})
after(async () => {
	await sim?.stop()
	if (authDir) rmSync(authDir, { recursive: true, force: true })
})

function textOf(m) {
	return m.message?.conversation ?? m.message?.extendedTextMessage?.text
}

async function poll(what, fn, timeoutMs = 15000) {
	const deadline = Date.now() + timeoutMs
	for (;;) {
		const value = await fn()
		if (value) return value
		if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
		await new Promise(r => setTimeout(r, 50))
	}
}

async function inboxEntry(phone, id) {
	return poll(`message ${id} in the inbox of ${phone}`, async () => {
		const inbox = await sim.control('GET', `/v1/phones/${phone}/messages`)
		assert.equal(inbox.status, 200)
		return inbox.body.find(m => m.id === id)
	})
}

async function routed(id) {
	const res = await sim.control('GET', `/v1/messages/${id}`)
	assert.equal(res.status, 200, JSON.stringify(res.body))
	return Object.fromEntries(res.body.deliveries.map(d => [d.device, d.enc]))
}

// A Baileys socket with the events the tests watch. Like the harness's connectBaileys, but it
// declines history sync: wasim's phones send none, and Baileys would otherwise hold back every
// event for 20 s after a first login, waiting for it.
async function open() {
	const { state, saveCreds } = await useMultiFileAuthState(authDir)
	const sock = makeWASocket({
		waWebSocketUrl: sim.chatUrl,
		auth: state,
		logger,
		browser: Browsers.macOS('Chrome'),
		markOnlineOnConnect: false,
		syncFullHistory: false,
		shouldSyncHistoryMessage: () => false,
		connectTimeoutMs: 10000,
		defaultQueryTimeoutMs: 10000,
		keepAliveIntervalMs: 5000
	})
	sock.ev.on('creds.update', saveCreds)
	const connection = recorder(sock, 'connection.update')
	return {
		sock,
		state,
		waitFor: (match, timeoutMs, what) => connection.waitFor(match, what, timeoutMs),
		end: () => sock.end(undefined),
		upserts: recorder(sock, 'messages.upsert'),
		updates: recorder(sock, 'messages.update'),
		presence: recorder(sock, 'presence.update')
	}
}

// The receipt status Baileys reports for a message it sent: a messages.update, or — when the
// receipt arrived while Baileys was still buffering the message's own upsert — the upsert's status.
function statusOf(client, id) {
	const statuses = [
		...client.updates.seen.filter(u => u.key.id === id && u.update.status).map(u => u.update.status),
		...client.upserts.seen.filter(m => m.key.id === id && m.key.fromMe && m.status).map(m => m.status)
	]
	return Math.max(0, ...statuses)
}

let client

test('Baileys links to phone A by QR', async () => {
	for (const [phone, name] of [[A, 'Alice'], [B, 'Bob']]) {
		const res = await sim.control('POST', '/v1/phones', { phone, name })
		assert.equal(res.status, 201)
	}
	client = await open()
	const { qr } = await client.waitFor(u => u.qr, 15000, 'a QR code')
	const scan = await sim.control('POST', `/v1/phones/${A}/scan`, { qr })
	assert.equal(scan.status, 200, JSON.stringify(scan.body))
	const restart = await client.waitFor(u => closeStatus(u) !== undefined, 15000, 'the 515 restart')
	assert.equal(closeStatus(restart), 515)
	client = await open()
	await client.waitFor(u => u.connection === 'open', 15000, 'connection open')
	// Baileys uploads its first prekeys right after login; wait until the server holds them.
	await poll('the prekey upload', async () => client.state.creds.firstUnuploadedPreKeyId > 1)
})

test('phone B sends to A: phone A and its companion Baileys both decrypt it', async () => {
	const sent = await sim.control('POST', `/v1/phones/${B}/messages`, { to: A, text: 'hello from B' })
	assert.equal(sent.status, 201, JSON.stringify(sent.body))
	assert.match(sent.body.id, /^3EB0[0-9A-F]{18}$/)
	const got = await client.upserts.waitFor(m => m.key.id === sent.body.id, 'the message in Baileys')
	assert.equal(textOf(got), 'hello from B')
	assert.equal(got.key.remoteJid, `${B}@s.whatsapp.net`)
	assert.equal(got.key.fromMe, false)
	assert.equal(got.pushName, 'Bob')

	const entry = await inboxEntry(A, sent.body.id)
	assert.equal(entry.text, 'hello from B')
	assert.equal(entry.from, `${B}@s.whatsapp.net`)
	assert.equal(entry.from_me, false)
	assert.equal(entry.media, null)
	assert.equal(entry.enc, 'pkmsg')

	const enc = await routed(sent.body.id)
	assert.deepEqual(enc, { [`${A}@s.whatsapp.net`]: 'pkmsg', [`${A}:1@s.whatsapp.net`]: 'pkmsg' })
})

let fromBaileys
test('Baileys sends to B: B decrypts it, Baileys sees the delivery and, after /read, the read receipt', async () => {
	const msg = await client.sock.sendMessage(`${B}@s.whatsapp.net`, { text: 'hi B, Baileys here' })
	fromBaileys = msg.key.id
	const entry = await inboxEntry(B, fromBaileys)
	assert.equal(entry.text, 'hi B, Baileys here')
	assert.equal(entry.from, `${A}@s.whatsapp.net`)
	assert.equal(entry.from_device, `${A}:1@s.whatsapp.net`)
	assert.equal(entry.from_me, false)

	// Baileys refreshed B's session when it learnt B's LID from USync, so its first message is a
	// pkmsg; its own phone A got the DeviceSentMessage copy.
	const enc = await routed(fromBaileys)
	assert.equal(enc[`${B}@s.whatsapp.net`], 'pkmsg')
	assert.equal(enc[`${A}@s.whatsapp.net`], 'pkmsg')
	const copy = await inboxEntry(A, fromBaileys)
	assert.equal(copy.from_me, true)
	assert.equal(copy.chat, `${B}@s.whatsapp.net`)
	assert.equal(copy.text, 'hi B, Baileys here')

	await poll('the delivery receipt', () => statusOf(client, fromBaileys) === DELIVERY_ACK)
	const read = await sim.control('POST', `/v1/phones/${B}/read`, { ids: [fromBaileys] })
	assert.equal(read.status, 200, JSON.stringify(read.body))
	assert.equal(read.body.receipts, 1)
	await poll('the read receipt', () => statusOf(client, fromBaileys) === READ)
	const update = client.updates.seen.find(u => u.key.id === fromBaileys && u.update.status === READ)
	if (update) {
		assert.equal(update.key.remoteJid, `${B}@s.whatsapp.net`)
		assert.equal(update.key.fromMe, true)
	}
})

test('later messages travel as msg once both sides have spoken', async () => {
	const sent = await sim.control('POST', `/v1/phones/${B}/messages`, { to: `${A}@s.whatsapp.net`, text: 'second from B' })
	assert.equal(sent.status, 201)
	const got = await client.upserts.waitFor(m => m.key.id === sent.body.id, 'the second message in Baileys')
	assert.equal(textOf(got), 'second from B')
	assert.equal((await routed(sent.body.id))[`${A}:1@s.whatsapp.net`], 'msg')

	const msg = await client.sock.sendMessage(`${B}@s.whatsapp.net`, { text: 'second from Baileys' })
	const entry = await inboxEntry(B, msg.key.id)
	assert.equal(entry.text, 'second from Baileys')
	assert.equal(entry.enc, 'msg')
	assert.equal((await routed(msg.key.id))[`${B}@s.whatsapp.net`], 'msg')

	const stats = await sim.control('GET', '/v1/stats')
	assert.ok(stats.body.enc.pkmsg >= 4 && stats.body.enc.msg >= 2, JSON.stringify(stats.body.enc))
	assert.equal(stats.body.phone_decrypt_failures, 0)
})

test('phone A sends to B: B decrypts it, A\'s companion Baileys gets the DeviceSentMessage copy', async () => {
	const sent = await sim.control('POST', `/v1/phones/${A}/messages`, { to: B, text: 'from the phone itself' })
	assert.equal(sent.status, 201, JSON.stringify(sent.body))
	const entry = await inboxEntry(B, sent.body.id)
	assert.equal(entry.text, 'from the phone itself')
	assert.equal(entry.from_device, `${A}@s.whatsapp.net`)
	const copy = await client.upserts.waitFor(m => m.key.id === sent.body.id, 'the copy in Baileys')
	assert.equal(textOf(copy), 'from the phone itself')
	assert.equal(copy.key.fromMe, true)
	assert.equal(copy.key.remoteJid, `${B}@s.whatsapp.net`)
	const enc = await routed(sent.body.id)
	assert.deepEqual(Object.keys(enc).sort(), [`${A}:1@s.whatsapp.net`, `${B}@s.whatsapp.net`])
})

test('a message sent while Baileys is offline arrives when it reconnects', async () => {
	client.end()
	await client.waitFor(u => u.connection === 'close', 5000, 'local close')
	const sent = await sim.control('POST', `/v1/phones/${B}/messages`, { to: A, text: 'while you were away' })
	assert.equal(sent.status, 201)
	const queued = await poll('the queued message', async () => {
		const stats = await sim.control('GET', '/v1/stats')
		return stats.body.queues.message >= 1 && stats.body
	})
	assert.ok(queued.offline_queue_depth >= 1)

	client = await open()
	await client.waitFor(u => u.connection === 'open', 15000, 'connection open after the restart')
	const got = await client.upserts.waitFor(m => m.key.id === sent.body.id, 'the offline message')
	assert.equal(textOf(got), 'while you were away')
	// Delivered, acknowledged by the receipt: nothing left to redeliver.
	await poll('empty queues', async () => {
		const { queues } = (await sim.control('GET', '/v1/stats')).body
		return queues.message === 0 && queues.unacked === 0
	})
})

test('presence subscription answers with the contact\'s presence', async () => {
	await client.sock.presenceSubscribe(`${B}@s.whatsapp.net`)
	const update = await client.presence.waitFor(p => p.id === `${B}@s.whatsapp.net`, 'a presence update')
	assert.equal(update.presences[`${B}@s.whatsapp.net`].lastKnownPresence, 'unavailable')
	client.end()
})

test('messaging control API answers bad requests with problem+json', async () => {
	const cases = [
		['POST', `/v1/phones/${A}/messages`, { text: 'x' }, 422, 'invalid_recipient'],
		['POST', `/v1/phones/${A}/messages`, { to: B }, 422, 'invalid_text'],
		['POST', `/v1/phones/${A}/messages`, { to: '15559999999', text: 'x' }, 404, 'recipient_not_found'],
		['POST', `/v1/phones/${A}/messages`, { to: `${B}:2@s.whatsapp.net`, text: 'x' }, 422, 'invalid_recipient'],
		['POST', '/v1/phones/19999999999/messages', { to: B, text: 'x' }, 404, 'phone_not_found'],
		['GET', `/v1/phones/${A}/messages?since=yesterday`, undefined, 422, 'invalid_since'],
		['POST', `/v1/phones/${B}/read`, { ids: 'x' }, 422, 'invalid_ids'],
		['POST', `/v1/phones/${B}/read`, { ids: ['3EB0UNKNOWN'] }, 404, 'message_not_found'],
		['GET', '/v1/messages/3EB0UNKNOWN', undefined, 404, 'message_not_found']
	]
	for (const [method, path, body, status, code] of cases) {
		const res = await sim.control(method, path, body)
		assert.equal(res.status, status, `${method} ${path}: ${JSON.stringify(res.body)}`)
		assert.equal(res.body.code, code, `${method} ${path}`)
	}
	const later = await sim.control('GET', `/v1/phones/${A}/messages?since=${Date.now() + 60000}`)
	assert.deepEqual(later.body, [])
})
