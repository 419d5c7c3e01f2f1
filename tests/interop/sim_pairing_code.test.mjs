// Linking by pairing code (01-connection.md §6) with an independent client: Baileys asks for a
// code with requestPairingCode, the test types it on the simulated phone through the control API,
// and Baileys is linked (515, reconnect, open). A wrong code fails cleanly and links nothing.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { rmSync } from 'node:fs'
import { startWasim, trustRoot, connectBaileys, closeStatus, tempDir } from './wasim_harness.mjs'

let sim
const authDirs = []
before(async () => {
	sim = await startWasim()
	trustRoot(sim.rootKey)
})
// Auth dirs go last: Baileys may still be saving credentials just after a socket ends.
after(async () => {
	await sim?.stop()
	for (const dir of authDirs) rmSync(dir, { recursive: true, force: true })
})

function authDir() {
	const dir = tempDir('baileys-code-')
	authDirs.push(dir)
	return dir
}

// Baileys sends companion_hello without waiting for the answer, so the code may reach the phone
// a moment before the server has seen the hello: retry "no companion waiting" briefly.
async function typeCode(phone, code) {
	const deadline = Date.now() + 5000
	for (;;) {
		const res = await sim.control('POST', `/v1/phones/${phone}/pairing-code`, { code })
		if (res.status !== 404 || res.body.code !== 'no_waiting_companion' || Date.now() > deadline) {
			return res
		}
		await new Promise(r => setTimeout(r, 50))
	}
}

// A code that differs from `code` in its last symbol (still in the alphabet).
function otherCode(code) {
	return code.slice(0, 7) + (code[7] === 'A' ? 'B' : 'A')
}

test('Baileys links with a pairing code, restarts on 515 and opens', async () => {
	const phone = await sim.control('POST', '/v1/phones', { phone: '15550003333', name: 'Carol' })
	assert.equal(phone.status, 201)
	const dir = authDir()
	let client = await connectBaileys(sim, dir)
	await client.waitFor(u => u.qr, 15000, 'a QR code (the registration connection is up)')
	const code = await client.sock.requestPairingCode('15550003333')
	assert.match(code, /^[1-9A-HJ-NP-TV-Z]{8}$/)

	// The phone user types it the way whatsmeow displays it.
	const typed = await typeCode('15550003333', code.slice(0, 4) + '-' + code.slice(4))
	assert.equal(typed.status, 200, JSON.stringify(typed.body))
	assert.equal(typed.body.device_jid, '15550003333:1@s.whatsapp.net')

	const restart = await client.waitFor(u => closeStatus(u) !== undefined, 15000, 'the 515 restart')
	assert.equal(closeStatus(restart), 515)
	assert.equal(client.state.creds.me.id, '15550003333:1@s.whatsapp.net')
	assert.equal(client.state.creds.registered, true)

	client = await connectBaileys(sim, dir)
	await client.waitFor(u => u.connection === 'open', 15000, 'connection open')
	assert.equal(client.state.creds.me.lid.split(/[:@]/)[0], phone.body.lid.split('@')[0])
	const devices = await sim.control('GET', '/v1/phones/15550003333/devices')
	assert.equal(devices.body.length, 1)
	assert.equal(devices.body[0].connected, true)
	assert.equal(devices.body[0].platform, 'chrome (Mac OS)')
	client.end()
})

test('a wrong code is refused with 422 wrong_code, links nothing, and the right code still works', async () => {
	assert.equal((await sim.control('POST', '/v1/phones', { phone: '15550004444' })).status, 201)
	const dir = authDir()
	let client = await connectBaileys(sim, dir)
	await client.waitFor(u => u.qr, 15000, 'a QR code')
	const code = await client.sock.requestPairingCode('15550004444')

	const wrong = await typeCode('15550004444', otherCode(code))
	assert.equal(wrong.status, 422, JSON.stringify(wrong.body))
	assert.equal(wrong.body.code, 'wrong_code')
	assert.match(wrong.contentType, /^application\/problem\+json/)
	const none = await sim.control('GET', '/v1/phones/15550004444/devices')
	assert.deepEqual(none.body, [])
	// Baileys' companion_finish got an error answer: it is not registered and still connected.
	await new Promise(r => setTimeout(r, 300))
	assert.ok(!client.state.creds.registered)
	assert.ok(!client.events.some(u => u.connection === 'close'), 'no close after a wrong code')

	// The user retypes the right code on the same request.
	const right = await typeCode('15550004444', code)
	assert.equal(right.status, 200, JSON.stringify(right.body))
	const restart = await client.waitFor(u => closeStatus(u) !== undefined, 15000, 'the 515 restart')
	assert.equal(closeStatus(restart), 515)
	client = await connectBaileys(sim, dir)
	await client.waitFor(u => u.connection === 'open', 15000, 'connection open')
	client.end()
})

test('pairing-code control errors', async () => {
	assert.equal((await sim.control('POST', '/v1/phones', { phone: '15550005555' })).status, 201)
	const noPhone = await sim.control('POST', '/v1/phones/15559990000/pairing-code', { code: 'ABCDEFGH' })
	assert.equal(noPhone.status, 404)
	assert.equal(noPhone.body.code, 'phone_not_found')
	for (const code of ['ABCDEFG', 'ABCDEFGHJ', 'ABCD-EFG0', 'ABCDEFGO', '', 12345678]) {
		const bad = await sim.control('POST', '/v1/phones/15550005555/pairing-code', { code })
		assert.equal(bad.status, 422, String(code))
		assert.equal(bad.body.code, 'invalid_code')
	}
	const nobody = await sim.control('POST', '/v1/phones/15550005555/pairing-code', { code: 'ABCD-EFGH' })
	assert.equal(nobody.status, 404)
	assert.equal(nobody.body.code, 'no_waiting_companion')

	// A companion asking for a number that has no account gets an iq error (Baileys only logs it).
	const dir = authDir()
	const client = await connectBaileys(sim, dir)
	await client.waitFor(u => u.qr, 15000, 'a QR code')
	const errors = []
	client.sock.ws.on('frame', node => {
		if (node.tag === 'iq' && node.attrs.type === 'error') errors.push(node)
	})
	await client.sock.requestPairingCode('15559990000')
	const deadline = Date.now() + 5000
	while (errors.length === 0 && Date.now() < deadline) await new Promise(r => setTimeout(r, 20))
	assert.equal(errors.length, 1)
	assert.equal(errors[0].content[0].attrs.code, '404')
	assert.equal(errors[0].content[0].attrs.text, 'item-not-found')
	assert.ok(!client.events.some(u => u.connection === 'close'))
	client.end()
})
