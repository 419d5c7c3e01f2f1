// wasim's media with an independent client: Baileys, linked to phone A, sends an image, a document
// and a voice note that it uploads to wasim's HTTPS media host (after media_conn), and phone B's
// inbox shows each with the SHA-256 of the original bytes (B downloaded and verified it); phone B
// sends the same kinds from files a local HTTP server serves, and Baileys downloads and decrypts
// them to the same bytes. The media host refuses uploads whose token is not the file's hash (also
// through Baileys' own uploader), serves ranges, and the control API answers bad media requests
// with problem+json.
//
// Trust of wasim's self-signed certificate: this suite runs under with_wasim_tls.mjs (ctest does
// that), which sets NODE_EXTRA_CA_CERTS before node starts — no Baileys option is involved.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:http'
import { request as httpsRequest } from 'node:https'
import { join } from 'node:path'
import makeWASocket, { useMultiFileAuthState, Browsers, downloadMediaMessage } from 'baileys'
import { startWasim, trustRoot, closeStatus, tempDir, logger, recorder } from './wasim_harness.mjs'

const A = '15550003333'
const B = '15550004444'
const MAX_UPLOAD_MIB = 1

let sim
let authDir
let files       // the local HTTP server phone B fetches from
let filesUrl
const served = new Map()  // path -> { body, type }

before(async () => {
	if (!process.env.NODE_EXTRA_CA_CERTS) {
		throw new Error('run this suite under with_wasim_tls.mjs (see tests/interop/CMakeLists.txt)')
	}
	sim = await startWasim(['--media-max-upload', String(MAX_UPLOAD_MIB)])
	trustRoot(sim.rootKey)
	authDir = tempDir('baileys-media-')
	files = createServer((req, res) => {
		const file = served.get(req.url)
		if (!file) {
			res.writeHead(404).end('no such file')
			return
		}
		res.writeHead(200, file.type ? { 'content-type': file.type } : {}).end(file.body)
	})
	await new Promise(resolve => files.listen(0, '127.0.0.1', resolve))
	filesUrl = `http://127.0.0.1:${files.address().port}`
})
after(async () => {
	files?.close()
	await sim?.stop()
	if (authDir) rmSync(authDir, { recursive: true, force: true })
})

const sha256 = buf => createHash('sha256').update(buf).digest('hex')

// Deterministic bytes (a small LCG), so that failures reproduce.
function bytes(n, seed) {
	const out = Buffer.alloc(n)
	let x = seed >>> 0
	for (let i = 0; i < n; i++) {
		x = (Math.imul(x, 1664525) + 1013904223) >>> 0
		out[i] = x >>> 24
	}
	return out
}

// A real JPEG when sharp (Baileys' optional image library) loads, else JPEG-looking bytes: the
// checks are on bytes and hashes, the picture itself does not matter.
async function jpeg(width, height, red) {
	try {
		const sharp = (await import('sharp')).default
		return await sharp({ create: { width, height, channels: 3, background: { r: red, g: 40, b: 90 } } })
			.jpeg().toBuffer()
	} catch {
		return Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), bytes(2000 + red, red)])
	}
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

// As sim_messages.test.mjs: declines history sync so that events are not held back.
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
		upserts: recorder(sock, 'messages.upsert')
	}
}

// Phone B sends a file the local server serves; resolves the message as Baileys got it.
async function phoneSends(path, body, type, media) {
	served.set(path, { body, type })
	const sent = await sim.control('POST', `/v1/phones/${B}/messages`, { to: A, media: { url: filesUrl + path, ...media } })
	assert.equal(sent.status, 201, JSON.stringify(sent.body))
	return client.upserts.waitFor(m => m.key.id === sent.body.id, `message ${sent.body.id} in Baileys`)
}

async function download(message) {
	return downloadMediaMessage(message, 'buffer', {}, { logger, reuploadRequest: client.sock.updateMediaMessage })
}

let client

test('Baileys links to phone A by QR', async () => {
	for (const [phone, name] of [[A, 'Alice'], [B, 'Bob']]) {
		assert.equal((await sim.control('POST', '/v1/phones', { phone, name })).status, 201)
	}
	assert.match(sim.mediaUrl, /^https:\/\/127\.0\.0\.1:\d+$/)
	assert.equal(new URL(sim.mediaUrl).port, new URL(sim.chatUrl).port, 'media host shares the chat port')
	client = await open()
	const { qr } = await client.waitFor(u => u.qr, 15000, 'a QR code')
	assert.equal((await sim.control('POST', `/v1/phones/${A}/scan`, { qr })).status, 200)
	await client.waitFor(u => closeStatus(u) === 515, 15000, 'the 515 restart')
	client = await open()
	await client.waitFor(u => u.connection === 'open', 15000, 'connection open')
	await poll('the prekey upload', async () => client.state.creds.firstUnuploadedPreKeyId > 1)
})

test('media_conn names wasim\'s host with every attribute whatsmeow requires', async () => {
	const conn = await client.sock.refreshMediaConn(true)
	assert.deepEqual(conn.hosts.map(h => h.hostname), [new URL(sim.mediaUrl).host])
	assert.equal(conn.hosts[0].maxContentLengthBytes, MAX_UPLOAD_MIB << 20)
	assert.ok(conn.ttl > 0)
	assert.ok(conn.auth.length > 20)
	const raw = await client.sock.query({
		tag: 'iq', attrs: { to: '@s.whatsapp.net', type: 'set', xmlns: 'w:m' }, content: [{ tag: 'media_conn', attrs: {} }]
	})
	const mc = raw.content.find(n => n.tag === 'media_conn')
	for (const key of ['auth', 'ttl', 'auth_ttl', 'max_buckets']) assert.ok(mc.attrs[key], key)
	for (const key of ['ttl', 'auth_ttl', 'max_buckets']) assert.match(mc.attrs[key], /^\d+$/, key)
})

test('Baileys sends an image to B: B downloads and verifies it', async () => {
	const image = await jpeg(64, 48, 200)
	const msg = await client.sock.sendMessage(`${B}@s.whatsapp.net`, { image, caption: 'a picture' })
	const sent = msg.message.imageMessage
	assert.ok(sent.url.startsWith(`${sim.mediaUrl}/v/`), sent.url)
	assert.ok(sent.directPath.startsWith('/v/'), sent.directPath)
	assert.equal(Buffer.from(sent.fileSha256).toString('hex'), sha256(image))

	const entry = await inboxEntry(B, msg.key.id)
	assert.equal(entry.type, 'media')
	assert.equal(entry.text, '')
	assert.deepEqual(entry.media, {
		type: 'image', mime: 'image/jpeg', size: image.length, sha256: sha256(image), caption: 'a picture'
	})
	// Phone A got the DeviceSentMessage copy and verified the same file.
	const copy = await inboxEntry(A, msg.key.id)
	assert.equal(copy.from_me, true)
	assert.equal(copy.media.sha256, sha256(image))

	const stats = (await sim.control('GET', '/v1/stats')).body.media
	assert.ok(stats.uploads >= 1 && stats.downloads >= 2 && stats.blobs >= 1, JSON.stringify(stats))
})

test('phone B sends an image: Baileys downloads and decrypts it to the same bytes', async () => {
	const image = await jpeg(40, 30, 17)
	const got = await phoneSends('/photo.jpg', image, 'image/jpeg', { type: 'image', caption: 'from B' })
	const m = got.message.imageMessage
	assert.equal(m.caption, 'from B')
	assert.equal(m.mimetype, 'image/jpeg')
	assert.equal(Number(m.fileLength), image.length)
	assert.ok(m.url.startsWith(`${sim.mediaUrl}/v/`))
	const data = await download(got)
	assert.ok(data.equals(image), 'the decrypted image equals the served bytes')
})

test('a document round trips both ways', async () => {
	const pdf = Buffer.concat([Buffer.from('%PDF-1.4\n'), bytes(30000, 7)])
	const msg = await client.sock.sendMessage(`${B}@s.whatsapp.net`, {
		document: pdf, fileName: 'report.pdf', mimetype: 'application/pdf'
	})
	const entry = await inboxEntry(B, msg.key.id)
	assert.deepEqual(entry.media, {
		type: 'document', mime: 'application/pdf', size: pdf.length, sha256: sha256(pdf), file_name: 'report.pdf'
	})

	const notes = Buffer.from('line one\nline two\n'.repeat(500))
	const got = await phoneSends('/notes.txt', notes, 'text/plain', { type: 'document', file_name: 'notes.txt' })
	const d = got.message.documentMessage
	assert.equal(d.fileName, 'notes.txt')
	assert.equal(d.mimetype, 'text/plain')
	assert.ok((await download(got)).equals(notes))
})

test('a voice note (ptt) round trips both ways', async () => {
	const ogg = Buffer.concat([Buffer.from('OggS'), bytes(12345, 3)])
	const msg = await client.sock.sendMessage(`${B}@s.whatsapp.net`, {
		audio: ogg, ptt: true, mimetype: 'audio/ogg; codecs=opus', seconds: 3, waveform: new Uint8Array(64)
	})
	assert.equal(msg.message.audioMessage.ptt, true)
	const entry = await inboxEntry(B, msg.key.id)
	assert.deepEqual(entry.media, {
		type: 'audio', mime: 'audio/ogg; codecs=opus', size: ogg.length, sha256: sha256(ogg), ptt: true
	})

	const voice = Buffer.concat([Buffer.from('OggS'), bytes(5000, 11)])
	// No Content-Type from the server: the phone uses the voice-note type.
	const got = await phoneSends('/voice', voice, undefined, { type: 'audio', ptt: true, seconds: 2 })
	const a = got.message.audioMessage
	assert.equal(a.ptt, true)
	assert.equal(a.seconds, 2)
	assert.equal(a.mimetype, 'audio/ogg; codecs=opus')
	assert.ok((await download(got)).equals(voice))
})

// POST to the media host with Node's https (trusting wasim through NODE_EXTRA_CA_CERTS).
function post(url, body) {
	return new Promise((resolve, reject) => {
		const req = httpsRequest(url, { method: 'POST', headers: { 'content-type': 'application/octet-stream' } }, res => {
			const chunks = []
			res.on('data', c => chunks.push(c))
			res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString() }))
		})
		req.on('error', reject)
		req.end(body)
	})
}

test('the media host refuses an upload whose token is not the file\'s hash', async () => {
	const { auth } = await client.sock.refreshMediaConn(false)
	const body = bytes(1000, 99)
	const b64url = buf => buf.toString('base64').replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')
	const good = b64url(createHash('sha256').update(body).digest())
	const wrong = b64url(createHash('sha256').update('something else').digest())
	const url = token => `${sim.mediaUrl}/mms/image/${token}?auth=${encodeURIComponent(auth)}&token=${token}`
	const before = (await sim.control('GET', '/v1/stats')).body.media

	const corrupted = await post(url(good), Buffer.concat([body.subarray(0, 999), Buffer.from([body[999] ^ 1])]))
	assert.equal(corrupted.status, 400)
	assert.equal(JSON.parse(corrupted.body).code, 'token_mismatch')
	assert.equal((await post(url(wrong), body)).status, 400)
	const badAuth = await post(url(good).replace(/auth=[^&]*/, 'auth=guess'), body)
	assert.equal(badAuth.status, 401)
	assert.equal((await post(`${sim.mediaUrl}/mms/image/${good}?auth=${encodeURIComponent(auth)}&token=${wrong}`, body)).status, 400)
	const tooBig = await post(url(good), Buffer.alloc((MAX_UPLOAD_MIB << 20) + 1))
	assert.equal(tooBig.status, 413)

	// whatsmeow's padded token is accepted; the answer names where the blob lives.
	const ok = await post(`${sim.mediaUrl}/mms/document/${good}=?auth=${encodeURIComponent(auth)}&token=${good}%3D`, body)
	assert.equal(ok.status, 200, ok.body)
	const { url: mediaUrl, direct_path: directPath } = JSON.parse(ok.body)
	assert.ok(mediaUrl.startsWith(sim.mediaUrl + directPath))

	// Downloads by direct path ignore the query (whatsmeow appends hash, mms-type, __wa-mms) and
	// serve ranges.
	const whole = await fetch(`${sim.mediaUrl}${directPath}&hash=x&mms-type=document&__wa-mms=`)
	assert.equal(whole.status, 200)
	assert.equal(whole.headers.get('content-type'), 'application/octet-stream')
	assert.ok(Buffer.from(await whole.arrayBuffer()).equals(body))
	const part = await fetch(mediaUrl, { headers: { range: 'bytes=10-19' } })
	assert.equal(part.status, 206)
	assert.equal(part.headers.get('content-range'), `bytes 10-19/${body.length}`)
	assert.ok(Buffer.from(await part.arrayBuffer()).equals(body.subarray(10, 20)))
	assert.equal((await fetch(`${sim.mediaUrl}/v/t62.7118-24/nothing.enc`)).status, 404)

	// Baileys' own uploader with a hash that does not match the file: refused on every host.
	const dir = tempDir('baileys-upload-')
	try {
		const path = join(dir, 'enc')
		writeFileSync(path, body)
		await assert.rejects(
			client.sock.waUploadToServer(path, {
				mediaType: 'image', fileEncSha256B64: createHash('sha256').update('not it').digest('base64'), timeoutMs: 10000
			}),
			/Media upload failed on all hosts/)
	} finally {
		rmSync(dir, { recursive: true, force: true })
	}
	const after = (await sim.control('GET', '/v1/stats')).body.media
	assert.ok(after.uploads_rejected >= before.uploads_rejected + 6, JSON.stringify(after))
})

test('media control API answers bad requests with problem+json', async () => {
	served.set('/big.bin', { body: Buffer.alloc((MAX_UPLOAD_MIB << 20) + 10) })
	served.set('/empty', { body: Buffer.alloc(0) })
	const unused = createServer()
	await new Promise(resolve => unused.listen(0, '127.0.0.1', resolve))
	const closedPort = unused.address().port
	await new Promise(resolve => unused.close(resolve))
	const send = media => ({ to: A, media })
	const cases = [
		[send({ type: 'image', url: 'http://example.com/a.jpg' }), 422, 'media_url_not_allowed'],
		[send({ type: 'image', url: 'http://10.0.0.1/a.jpg' }), 422, 'media_url_not_allowed'],
		[send({ type: 'image', url: 'ftp://127.0.0.1/a.jpg' }), 422, 'invalid_media_url'],
		[send({ type: 'gif', url: `${filesUrl}/photo.jpg` }), 422, 'invalid_media_type'],
		[send({ type: 'image' }), 422, 'invalid_media_url'],
		[send({ type: 'image', url: `${filesUrl}/photo.jpg`, ptt: true }), 422, 'invalid_media'],
		[send({ type: 'image', url: `${filesUrl}/photo.jpg`, colour: 'red' }), 422, 'invalid_media'],
		[{ to: A, text: 'x', media: { type: 'image', url: `${filesUrl}/photo.jpg` } }, 422, 'invalid_media'],
		[send({ type: 'image', url: `${filesUrl}/missing.jpg` }), 502, 'media_fetch_failed'],
		[send({ type: 'image', url: `http://127.0.0.1:${closedPort}/a.jpg` }), 502, 'media_fetch_failed'],
		[send({ type: 'document', url: `${filesUrl}/big.bin` }), 413, 'media_too_large'],
		[send({ type: 'document', url: `${filesUrl}/empty` }), 422, 'media_empty'],
		[{ to: '15559999999', media: { type: 'image', url: `${filesUrl}/photo.jpg` } }, 404, 'recipient_not_found']
	]
	for (const [body, status, code] of cases) {
		const res = await sim.control('POST', `/v1/phones/${B}/messages`, body)
		assert.equal(res.status, status, `${JSON.stringify(body)}: ${JSON.stringify(res.body)}`)
		assert.equal(res.body.code, code, JSON.stringify(body))
	}
	client.end()
})
