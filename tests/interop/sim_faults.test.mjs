// wasim's fault injection (POST/GET/DELETE /v1/faults) and idle sweep as an independent client
// sees them: stream errors reach Baileys as close statuses, dropped connections close, refused
// connections fail until the window ends, delayed and lost stanzas behave as configured (without
// breaking the Noise stream), and silent connections are dropped.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { rmSync } from 'node:fs'
import WebSocket from 'ws'
import {
	startWasim, trustRoot, connectBaileys, linkByQr, closeStatus, tempDir
} from './wasim_harness.mjs'

const PHONE = '15550006666'
let sim
let authDir
before(async () => {
	sim = await startWasim()
	trustRoot(sim.rootKey)
	assert.equal((await sim.control('POST', '/v1/phones', { phone: PHONE })).status, 201)
	authDir = tempDir('baileys-faults-')
})
after(async () => {
	await sim?.stop()
	if (authDir) rmSync(authDir, { recursive: true, force: true })
})

function ping(client, timeoutMs) {
	return client.sock.query({
		tag: 'iq',
		attrs: { to: '@s.whatsapp.net', type: 'get', xmlns: 'w:p' },
		content: [{ tag: 'ping', attrs: {} }]
	}, timeoutMs)
}

async function reconnect() {
	const client = await connectBaileys(sim, authDir)
	await client.waitFor(u => u.connection === 'open', 15000, 'connection open')
	return client
}

test('a stream error 503 reaches Baileys as close status 503; conflict replaced as 440', async () => {
	let client = await linkByQr(sim, PHONE, authDir)
	const res = await sim.control('POST', '/v1/faults', { stream_error: { phone: PHONE, device: 1, code: 503 } })
	assert.equal(res.status, 200, JSON.stringify(res.body))
	assert.equal(res.body.stream_errors, 1)
	const closed = await client.waitFor(u => closeStatus(u) !== undefined, 10000, 'close after 503')
	assert.equal(closeStatus(closed), 503)

	client = await reconnect()
	const replaced = await sim.control('POST', '/v1/faults', { stream_error: { phone: PHONE, conflict: 'replaced' } })
	assert.equal(replaced.body.stream_errors, 1)
	const closed440 = await client.waitFor(u => closeStatus(u) !== undefined, 10000, 'close after conflict')
	assert.equal(closeStatus(closed440), 440)
})

test('dropped connections are seen as closed', async () => {
	const client = await reconnect()
	const res = await sim.control('POST', '/v1/faults', { drop_connections: { phone: PHONE } })
	assert.equal(res.status, 200)
	assert.equal(res.body.dropped, 1)
	const closed = await client.waitFor(u => u.connection === 'close', 10000, 'close after a drop')
	assert.equal(closeStatus(closed), 428)  // Baileys' "Connection Terminated"
	const devices = await sim.control('GET', `/v1/phones/${PHONE}/devices`)
	assert.equal(devices.body[0].connected, false)
	const stats = await sim.control('GET', '/v1/stats')
	assert.ok(stats.body.connections_dropped >= 1)
})

test('refused connections fail until the window ends', async () => {
	const res = await sim.control('POST', '/v1/faults', { refuse_connections_for_s: 2 })
	assert.equal(res.status, 200)
	assert.ok(res.body.active.refuse_connections_remaining_ms > 1000)
	const started = Date.now()
	const refused = await connectBaileys(sim, authDir)
	const closed = await refused.waitFor(u => u.connection === 'close', 10000, 'refused connection')
	assert.ok(Date.now() - started < 2000, 'the refusal is immediate')
	assert.equal(closeStatus(closed), 408)  // ECONNRESET: Baileys' code for network errors
	assert.ok(!refused.events.some(u => u.connection === 'open'))

	const wait = 2100 - (Date.now() - started)
	if (wait > 0) await new Promise(r => setTimeout(r, wait))
	const later = await sim.control('GET', '/v1/faults')
	assert.deepEqual(later.body.active, {})
	const client = await reconnect()
	const stats = await sim.control('GET', '/v1/stats')
	assert.ok(stats.body.connections_refused >= 1)
	client.end()
})

test('delayed stanzas arrive late; lost stanzas never arrive and the stream stays usable', async () => {
	const client = await reconnect()
	let t = Date.now()
	await ping(client, 5000)
	const baseline = Date.now() - t

	let res = await sim.control('POST', '/v1/faults', { seed: 7, frame_delay_ms: 400 })
	assert.equal(res.status, 200)
	assert.equal(res.body.seed, 7)
	assert.deepEqual(res.body.active, { frame_delay_ms: 400, frame_delay_probability: 1 })
	t = Date.now()
	await ping(client, 5000)
	assert.ok(Date.now() - t >= 390, `a delayed pong came after ${Date.now() - t} ms (baseline ${baseline})`)
	assert.equal((await sim.control('DELETE', '/v1/faults')).status, 204)

	res = await sim.control('POST', '/v1/faults', { frame_loss_probability: 1 })
	assert.equal(res.status, 200)
	await assert.rejects(ping(client, 1000), 'the pong is lost')
	assert.equal((await sim.control('DELETE', '/v1/faults')).status, 204)
	// Had a lost stanza consumed a Noise counter, Baileys could not decrypt this answer.
	await ping(client, 5000)
	assert.ok(!client.events.some(u => u.connection === 'close'))
	const stats = await sim.control('GET', '/v1/stats')
	assert.ok(stats.body.frames_lost >= 1)
	assert.ok(stats.body.frames_delayed >= 1)
	client.end()
})

test('faults API: bad input is problem+json, GET shows the active faults', async () => {
	for (const body of [{}, { frame_loss_probability: 2 }, { nope: 1 }, { stream_error: { phone: PHONE } },
		{ drop_connections: 'some' }]) {
		const res = await sim.control('POST', '/v1/faults', body)
		assert.equal(res.status, 422, JSON.stringify(body))
		assert.equal(res.body.code, 'invalid_faults')
		assert.match(res.contentType, /^application\/problem\+json/)
	}
	const notJson = await fetch(sim.controlUrl + '/v1/faults', { method: 'POST', body: 'x' })
	assert.equal(notJson.status, 400)
	const noPhone = await sim.control('POST', '/v1/faults', { drop_connections: { phone: '15559990000' } })
	assert.equal(noPhone.status, 404)
	assert.equal(noPhone.body.code, 'phone_not_found')
	const noDevice = await sim.control('POST', '/v1/faults', { stream_error: { phone: PHONE, device: 9, code: 503 } })
	assert.equal(noDevice.status, 404)
	assert.equal(noDevice.body.code, 'device_not_found')

	const set = await sim.control('POST', '/v1/faults', {
		seed: 1, frame_loss_probability: 0.1, frame_delay_ms: 20, frame_delay_probability: 0.5
	})
	assert.equal(set.status, 200)
	const got = await sim.control('GET', '/v1/faults')
	assert.deepEqual(got.body, {
		seed: 1,
		active: { frame_loss_probability: 0.1, frame_delay_ms: 20, frame_delay_probability: 0.5 }
	})
	assert.equal((await sim.control('DELETE', '/v1/faults')).status, 204)
	assert.deepEqual((await sim.control('GET', '/v1/faults')).body.active, {})
})

test('connections silent for longer than --idle-timeout are dropped', async () => {
	const idle = await startWasim(['--idle-timeout', '1'])
	try {
		const ws = new WebSocket(idle.chatUrl)
		await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject) })
		ws.on('error', () => {})  // the drop is a reset: ECONNRESET before 'close'
		const opened = Date.now()
		await new Promise(resolve => ws.once('close', resolve))
		const elapsed = Date.now() - opened
		assert.ok(elapsed >= 900 && elapsed < 5000, `closed after ${elapsed} ms`)
		const stats = await idle.control('GET', '/v1/stats')
		assert.equal(stats.body.idle_closed, 1)
	} finally {
		await idle.stop()
	}
})
