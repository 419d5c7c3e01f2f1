// The native engine (wa::Client, run as tests/tools/wa_peer over the gateway's SQLite state)
// against an independent client, Baileys, through wasim: Baileys is linked to phone A, wa_peer to
// phone B. Text both ways: Baileys' first message to wa_peer is a pkmsg, later ones are msgs
// once wa_peer has answered; wa_peer's answer is a msg on the session Baileys started. Then a
// retry-receipt round in each direction: wasim's corrupt_next_message fault breaks one delivery,
// the receiver sends a retry receipt, the sender encrypts again and the message arrives once.
// The enc type of each delivery is read from wasim's routing log (GET /v1/messages/{id}).
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import makeWASocket, { useMultiFileAuthState, Browsers } from 'baileys'
import { startWasim, trustRoot, closeStatus, tempDir, logger, recorder } from './wasim_harness.mjs'

const A = '15550003331' // Baileys' phone
const B = '15550003332' // wa_peer's phone
const PEER_BIN = process.env.WA_PEER_BIN

let sim
let authDir
let peerDir
let peer
let baileys
let peerDevice // wa_peer's device: { jid, lid }
let baileysDevice

before(async () => {
	if (!PEER_BIN) throw new Error('WA_PEER_BIN must name the wa_peer binary')
	sim = await startWasim()
	trustRoot(sim.rootKey)
	authDir = tempDir('baileys-auth-')
	peerDir = tempDir('wa-peer-')
})
after(async () => {
	baileys?.end()
	await peer?.quit()
	await sim?.stop()
	for (const dir of [authDir, peerDir]) if (dir) rmSync(dir, { recursive: true, force: true })
})

async function poll(what, fn, timeoutMs = 15000) {
	const deadline = Date.now() + timeoutMs
	for (;;) {
		const value = await fn()
		if (value) return value
		if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
		await new Promise(r => setTimeout(r, 50))
	}
}

// What Baileys sent, by id, for its getMessage (retry receipts).
const sentByBaileys = new Map()
async function baileysSends(to, text) {
	const msg = await baileys.sock.sendMessage(to, { text })
	sentByBaileys.set(msg.key.id, msg.message)
	return msg
}

function textOf(m) {
	return m.message?.conversation ?? m.message?.extendedTextMessage?.text
}

// A Baileys socket that declines history sync (wasim's phones send none; Baileys would hold its
// events back for 20 s waiting for it).
async function openBaileys() {
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
		keepAliveIntervalMs: 5000,
		// Baileys 7.0.0-rc14 keeps sent messages for retries under the chat's user JID but looks
		// a 1:1 retry receipt up under its sender's device JID, so a retry from a companion misses
		// that cache: like an application, we answer from what we sent. The retry receipt can
		// come before sendMessage has returned the message, so wait for it a little.
		getMessage: async key => {
			for (let i = 0; i < 100 && !sentByBaileys.has(key.id); ++i) await new Promise(r => setTimeout(r, 20))
			return sentByBaileys.get(key.id)
		}
	})
	sock.ev.on('creds.update', saveCreds)
	const connection = recorder(sock, 'connection.update')
	return {
		sock,
		state,
		waitFor: (match, timeoutMs, what) => connection.waitFor(match, what, timeoutMs),
		end: () => sock.end(undefined),
		upserts: recorder(sock, 'messages.upsert')
	}
}

// wa_peer as a child process: JSON commands on stdin, JSON events on stdout.
function startPeer() {
	const proc = spawn(PEER_BIN, ['--data-dir', peerDir, '--chat-url', sim.chatUrl,
		'--root-key-hex', sim.rootKey, '--ca-file', sim.certPath, '--log-level', process.env.WA_PEER_LOG ?? 'warn'],
	{ stdio: ['pipe', 'pipe', 'inherit'] })
	const events = []
	const waiters = []
	let exited = false
	createInterface({ input: proc.stdout }).on('line', line => {
		const event = JSON.parse(line)
		events.push(event)
		for (const w of [...waiters]) {
			if (w.match(event)) {
				waiters.splice(waiters.indexOf(w), 1)
				w.resolve(event)
			}
		}
	})
	proc.once('exit', () => { exited = true })
	let refs = 0
	return {
		events,
		send(command) {
			proc.stdin.write(JSON.stringify(command) + '\n')
		},
		waitFor(match, what, timeoutMs = 15000) {
			const found = events.find(match)
			if (found) return Promise.resolve(found)
			return new Promise((resolve, reject) => {
				const timer = setTimeout(() => reject(new Error(`timed out waiting for wa_peer's ${what}; ` +
					`last events: ${JSON.stringify(events.slice(-10))}`)), timeoutMs)
				waiters.push({ match, resolve: v => { clearTimeout(timer); resolve(v) } })
			})
		},
		// Sends a command and resolves its result event.
		async call(command, timeoutMs = 20000) {
			const ref = `r${++refs}`
			this.send({ ...command, ref })
			return this.waitFor(e => e.event === 'result' && e.ref === ref, `result of ${command.cmd}`, timeoutMs)
		},
		messages(id) {
			return events.filter(e => e.event === 'message' && e.id === id)
		},
		async quit() {
			if (exited) return
			const gone = new Promise(r => proc.once('exit', r))
			proc.stdin.end(JSON.stringify({ cmd: 'quit' }) + '\n')
			const timer = setTimeout(() => proc.kill('SIGKILL'), 10000)
			await gone
			clearTimeout(timer)
		}
	}
}

// The enc types wasim routed for `id` to one device (any of its JIDs), in delivery order: a
// retry's re-send adds an entry.
async function encTo(id, device) {
	const res = await sim.control('GET', `/v1/messages/${id}`)
	assert.equal(res.status, 200, JSON.stringify(res.body))
	return res.body.deliveries.filter(d => d.device === device.jid || d.device === device.lid).map(d => d.enc)
}

async function deviceOf(phone, jid) {
	const res = await sim.control('GET', `/v1/phones/${phone}/devices`)
	assert.equal(res.status, 200)
	const found = res.body.find(d => d.jid === jid)
	assert.ok(found, `device ${jid} of ${phone}`)
	return { jid: found.jid, lid: found.lid, number: Number(jid.split(':')[1].split('@')[0]) }
}

async function stats() {
	return (await sim.control('GET', '/v1/stats')).body
}

test('Baileys links to phone A and wa_peer to phone B', async () => {
	for (const [phone, name] of [[A, 'Alice'], [B, 'Bob']]) {
		const res = await sim.control('POST', '/v1/phones', { phone, name })
		assert.equal(res.status, 201)
	}
	baileys = await openBaileys()
	const { qr } = await baileys.waitFor(u => u.qr, 15000, 'a QR code')
	let scan = await sim.control('POST', `/v1/phones/${A}/scan`, { qr })
	assert.equal(scan.status, 200, JSON.stringify(scan.body))
	baileysDevice = await deviceOf(A, scan.body.device_jid)
	const restart = await baileys.waitFor(u => closeStatus(u) !== undefined, 15000, 'the 515 restart')
	assert.equal(closeStatus(restart), 515)
	baileys = await openBaileys()
	await baileys.waitFor(u => u.connection === 'open', 15000, 'connection open')
	await poll('Baileys\' prekey upload', async () => baileys.state.creds.firstUnuploadedPreKeyId > 1)

	peer = startPeer()
	const ready = await peer.waitFor(e => e.event === 'ready', 'ready event')
	assert.equal(ready.paired, false)
	const linked = await peer.call({ cmd: 'link' })
	assert.equal(linked.ok, true, JSON.stringify(linked))
	const peerQr = await peer.waitFor(e => e.event === 'qr', 'QR code')
	scan = await sim.control('POST', `/v1/phones/${B}/scan`, { qr: peerQr.code })
	assert.equal(scan.status, 200, JSON.stringify(scan.body))
	peerDevice = await deviceOf(B, scan.body.device_jid)
	const paired = await peer.waitFor(e => e.event === 'paired', 'paired event')
	assert.equal(paired.jid, scan.body.device_jid)
	await peer.waitFor(e => e.event === 'connected', 'login after linking', 30000)
})

test('Baileys -> wa_peer: the first message is a pkmsg and wa_peer decrypts it', async () => {
	const msg = await baileysSends(`${B}@s.whatsapp.net`, 'hello wa_peer, Baileys here')
	const got = await peer.waitFor(e => e.event === 'message' && e.id === msg.key.id, 'the first message')
	assert.equal(got.text, 'hello wa_peer, Baileys here')
	assert.equal(got.from_me, false)
	assert.equal(got.sender_pn ?? got.chat, `${A}@s.whatsapp.net`)
	assert.deepEqual(await encTo(msg.key.id, peerDevice), ['pkmsg'])
})

test('wa_peer -> Baileys: Baileys decrypts it (a msg on the session Baileys started)', async () => {
	const sent = await peer.call({ cmd: 'send', to: A, text: 'hi Baileys, from the native engine' })
	assert.equal(sent.ok, true, JSON.stringify(sent))
	const got = await baileys.upserts.waitFor(m => m.key.id === sent.id, 'wa_peer\'s message in Baileys')
	assert.equal(textOf(got), 'hi Baileys, from the native engine')
	assert.equal(got.key.fromMe, false)
	assert.equal(got.key.remoteJid, `${B}@s.whatsapp.net`)
	assert.deepEqual(await encTo(sent.id, baileysDevice), ['msg'])
	await peer.waitFor(e => e.event === 'ack' && e.id === sent.id, 'server ack')
	assert.equal(peer.events.find(e => e.event === 'ack' && e.id === sent.id).error, null)
	// The phone A decrypted it too (its first message from wa_peer: a pkmsg).
	const inbox = await poll('the message in phone A\'s inbox', async () =>
		(await sim.control('GET', `/v1/phones/${A}/messages`)).body.find(m => m.id === sent.id))
	assert.equal(inbox.text, 'hi Baileys, from the native engine')
})

test('later messages travel as msg both ways and decrypt', async () => {
	for (let i = 0; i < 3; ++i) {
		const msg = await baileysSends(`${B}@s.whatsapp.net`, `Baileys ${i}`)
		const got = await peer.waitFor(e => e.event === 'message' && e.id === msg.key.id, `Baileys' message ${i}`)
		assert.equal(got.text, `Baileys ${i}`)
		assert.deepEqual(await encTo(msg.key.id, peerDevice), ['msg'])

		const sent = await peer.call({ cmd: 'send', to: `${A}@s.whatsapp.net`, text: `wa_peer ${i}` })
		assert.equal(sent.ok, true, JSON.stringify(sent))
		const back = await baileys.upserts.waitFor(m => m.key.id === sent.id, `wa_peer's message ${i}`)
		assert.equal(textOf(back), `wa_peer ${i}`)
		assert.deepEqual(await encTo(sent.id, baileysDevice), ['msg'])
	}
	const s = await stats()
	assert.equal(s.retry_receipts, 0, JSON.stringify(s))
	assert.equal(s.phone_decrypt_failures, 0)
})

test('retry round: wa_peer cannot decrypt Baileys\' message once, asks again, gets it', async () => {
	const before = await stats()
	const fault = await sim.control('POST', '/v1/faults',
		{ corrupt_next_message: { phone: B, device: peerDevice.number } })
	assert.equal(fault.status, 200, JSON.stringify(fault.body))
	const msg = await baileysSends(`${B}@s.whatsapp.net`, 'this one breaks on the way')
	const got = await peer.waitFor(e => e.event === 'message' && e.id === msg.key.id, 'the re-sent message', 30000)
	assert.equal(got.text, 'this one breaks on the way')
	// wasim delivered it twice to wa_peer's device: the broken copy and Baileys' re-encryption.
	const encs = await encTo(msg.key.id, peerDevice)
	assert.ok(encs.length >= 2, JSON.stringify(encs))
	const after = await stats()
	assert.ok(after.retry_receipts > before.retry_receipts, JSON.stringify(after))
	await new Promise(r => setTimeout(r, 300))
	assert.equal(peer.messages(msg.key.id).length, 1)
})

test('retry round: Baileys cannot decrypt wa_peer\'s message once, asks again, gets it', async () => {
	const before = await stats()
	const fault = await sim.control('POST', '/v1/faults',
		{ corrupt_next_message: { phone: A, device: baileysDevice.number } })
	assert.equal(fault.status, 200, JSON.stringify(fault.body))
	const sent = await peer.call({ cmd: 'send', to: A, text: 'this one breaks too' })
	assert.equal(sent.ok, true, JSON.stringify(sent))
	const got = await baileys.upserts.waitFor(m => m.key.id === sent.id && textOf(m) === 'this one breaks too',
		'wa_peer\'s re-sent message in Baileys', 30000)
	assert.equal(got.key.remoteJid, `${B}@s.whatsapp.net`)
	// wa_peer saw Baileys' retry receipt and encrypted again.
	const retry = await peer.waitFor(e => e.event === 'receipt' && e.type === 'retry' && e.ids.includes(sent.id),
		'the retry receipt')
	const user = jid => jid.split('@')[0].split(':')[0]
	assert.ok([A, user(baileysDevice.lid)].includes(user(retry.from)), retry.from)
	const encs = await encTo(sent.id, baileysDevice)
	assert.ok(encs.length >= 2, JSON.stringify(encs))
	const after = await stats()
	assert.ok(after.retry_receipts > before.retry_receipts, JSON.stringify(after))

	// The sessions still work afterwards, both ways.
	const msg = await baileysSends(`${B}@s.whatsapp.net`, 'after the retries')
	assert.equal((await peer.waitFor(e => e.event === 'message' && e.id === msg.key.id, 'a later message')).text,
		'after the retries')
	const last = await peer.call({ cmd: 'send', to: A, text: 'after the retries, back' })
	assert.equal(last.ok, true)
	const back = await baileys.upserts.waitFor(m => m.key.id === last.id, 'a later message in Baileys')
	assert.equal(textOf(back), 'after the retries, back')
})

test('wa_peer restarts from its stored state and goes on', async () => {
	await peer.quit()
	assert.ok(peer.events.some(e => e.event === 'stopped'))
	peer = startPeer()
	const ready = await peer.waitFor(e => e.event === 'ready', 'ready event')
	assert.equal(ready.paired, true)
	await peer.waitFor(e => e.event === 'connected', 'login from the stored state', 30000)
	const msg = await baileysSends(`${B}@s.whatsapp.net`, 'after your restart')
	const got = await peer.waitFor(e => e.event === 'message' && e.id === msg.key.id, 'the message after the restart')
	assert.equal(got.text, 'after your restart')
	assert.deepEqual(await encTo(msg.key.id, peerDevice), ['msg'])
	const sent = await peer.call({ cmd: 'send', to: A, text: 'restarted and still talking' })
	assert.equal(sent.ok, true)
	const back = await baileys.upserts.waitFor(m => m.key.id === sent.id, 'the answer after the restart')
	assert.equal(textOf(back), 'restarted and still talking')
	assert.equal(peer.events.filter(e => e.event === 'qr').length, 0)
})
