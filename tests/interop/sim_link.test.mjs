// wasim's connection layer with an independent client: Baileys links by QR, logs in, restarts
// with its saved credentials, and sees "logged out" when the phone unlinks it.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { rmSync } from 'node:fs'
import { startWasim, trustRoot, connectBaileys, closeStatus, tempDir } from './wasim_harness.mjs'

let sim
before(async () => {
	sim = await startWasim()
	const root = await sim.control('GET', '/v1/root-key')
	assert.equal(root.status, 200)
	assert.equal(root.body.public_key_hex, sim.rootKey)
	trustRoot(sim.rootKey)
})
after(async () => { await sim?.stop() })

test('Baileys links by QR, logs in, restarts without a scan, and is logged out by unlinking', async () => {
	const phone = await sim.control('POST', '/v1/phones', { phone: '15550001111', name: 'Alice' })
	assert.equal(phone.status, 201)
	assert.equal(phone.body.jid, '15550001111@s.whatsapp.net')
	assert.match(phone.body.lid, /^\d{15}@lid$/)

	const authDir = tempDir('baileys-auth-')
	try {
		// 1. A new companion shows a QR; the phone scans it.
		let client = await connectBaileys(sim, authDir)
		const { qr } = await client.waitFor(u => u.qr, 15000, 'a QR code')
		assert.match(qr, /^https:\/\/wa\.me\/settings\/linked_devices#2@[^,]+,[A-Za-z0-9+/=]{44},[A-Za-z0-9+/=]{44},[A-Za-z0-9+/=]{44},\d$/)
		const scan = await sim.control('POST', '/v1/phones/15550001111/scan', { qr })
		assert.equal(scan.status, 200, JSON.stringify(scan.body))
		assert.match(scan.body.device_jid, /^15550001111:1@s\.whatsapp\.net$/)

		// 2. The server asks for a restart (515); a new socket logs in with the stored credentials.
		const restart = await client.waitFor(u => closeStatus(u) !== undefined, 15000, 'the 515 restart')
		assert.equal(closeStatus(restart), 515)
		assert.equal(client.state.creds.me.id, '15550001111:1@s.whatsapp.net')
		client = await connectBaileys(sim, authDir)
		await client.waitFor(u => u.connection === 'open', 15000, 'connection open')
		assert.equal(client.state.creds.me.lid.split(/[:@]/)[0], phone.body.lid.split('@')[0])

		const devices = await sim.control('GET', '/v1/phones/15550001111/devices')
		assert.equal(devices.status, 200)
		assert.equal(devices.body.length, 1)
		assert.equal(devices.body[0].jid, '15550001111:1@s.whatsapp.net')
		assert.equal(devices.body[0].connected, true)
		client.end()
		await client.waitFor(u => u.connection === 'close', 5000, 'local close')

		// 3. A restart of the client logs in again without a new scan.
		client = await connectBaileys(sim, authDir)
		await client.waitFor(u => u.connection === 'open', 15000, 'connection open after restart')
		assert.ok(!client.events.some(u => u.qr), 'no QR after a restart with saved credentials')

		// 4. The phone unlinks the device: Baileys sees 401 (logged out).
		const unlink = await sim.control('DELETE',
			'/v1/phones/15550001111/devices/' + encodeURIComponent('15550001111:1@s.whatsapp.net'))
		assert.equal(unlink.status, 204)
		const out = await client.waitFor(u => closeStatus(u) !== undefined, 15000, 'logged out')
		assert.equal(closeStatus(out), 401)

		// 5. The old credentials are refused from now on.
		client = await connectBaileys(sim, authDir)
		const refused = await client.waitFor(u => closeStatus(u) !== undefined, 15000, 'login refused')
		assert.equal(closeStatus(refused), 401)
		const after = await sim.control('GET', '/v1/phones/15550001111/devices')
		assert.deepEqual(after.body, [])
	} finally {
		rmSync(authDir, { recursive: true, force: true })
	}
})

test('control API answers bad requests with problem+json', async () => {
	const bad = await sim.control('POST', '/v1/phones', { phone: '12' })
	assert.equal(bad.status, 422)
	assert.equal(bad.body.code, 'invalid_phone')
	const dup = await sim.control('POST', '/v1/phones', { phone: '15550002222' })
	assert.equal(dup.status, 201)
	const again = await sim.control('POST', '/v1/phones', { phone: '15550002222' })
	assert.equal(again.status, 409)
	assert.equal(again.body.code, 'phone_exists')
	const noPhone = await sim.control('POST', '/v1/phones/19999999999/scan', { qr: 'x' })
	assert.equal(noPhone.status, 404)
	assert.equal(noPhone.body.code, 'phone_not_found')
	const badQr = await sim.control('POST', '/v1/phones/15550002222/scan', { qr: 'not,a,qr' })
	assert.equal(badQr.status, 422)
	assert.equal(badQr.body.code, 'invalid_qr')
	const unknownRef = await sim.control('POST', '/v1/phones/15550002222/scan', {
		qr: '2@nope,' + Buffer.alloc(32).toString('base64') + ',' + Buffer.alloc(32).toString('base64') +
			',' + Buffer.alloc(32).toString('base64') + ',1'
	})
	assert.equal(unknownRef.status, 404)
	assert.equal(unknownRef.body.code, 'qr_not_found')
	const noDevice = await sim.control('DELETE', '/v1/phones/15550002222/devices/15550002222:9@s.whatsapp.net')
	assert.equal(noDevice.status, 404)
	const stats = await sim.control('GET', '/v1/stats')
	assert.equal(stats.status, 200)
	for (const key of ['connections', 'devices', 'handshakes', 'frames_in', 'frames_out', 'pairings',
		'logins', 'offline_queue_depth']) {
		assert.equal(typeof stats.body[key], 'number', key)
	}
	assert.ok(stats.body.devices >= 2)
})
