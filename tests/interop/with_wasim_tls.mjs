// Runs a command with NODE_EXTRA_CA_CERTS set to a wasim TLS certificate: Node reads that
// variable only when a process starts, so the certificate must exist first. This makes it in a
// temporary data dir (by starting wasim once and stopping it), runs the command with
// NODE_EXTRA_CA_CERTS and WASIM_TLS_DIR pointing there (wasim_harness.mjs gives every wasim it
// starts that certificate), and exits with the command's status.
//   node with_wasim_tls.mjs <command> [args...]     (WA_WASIM_BIN names the wasim binary)
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'

const [command, ...args] = process.argv.slice(2)
const bin = process.env.WA_WASIM_BIN
if (!command || !bin) {
	console.error('usage: WA_WASIM_BIN=<wasim> node with_wasim_tls.mjs <command> [args...]')
	process.exit(2)
}
const dir = mkdtempSync(join(tmpdir(), 'wasim-tls-'))
const cleanup = () => rmSync(dir, { recursive: true, force: true })

const wasim = spawn(bin, ['--port', '0', '--control-port', '0', '--data-dir', dir, '--log-level', 'error'],
	{ stdio: ['ignore', 'pipe', 'inherit'] })
const certPath = await new Promise((resolve, reject) => {
	const timer = setTimeout(() => reject(new Error('wasim did not start in 10 s')), 10000)
	wasim.once('exit', code => reject(new Error(`wasim exited with ${code}`)))
	createInterface({ input: wasim.stdout }).on('line', line => {
		const m = line.match(/^wasim TLS certificate (\S+)/)
		if (m) {
			clearTimeout(timer)
			resolve(m[1])
		}
	})
}).catch(err => {
	console.error(`with_wasim_tls: ${err.message}`)
	cleanup()
	process.exit(1)
})
const stopped = new Promise(r => wasim.once('exit', r))
wasim.kill('SIGTERM')
await stopped

const child = spawn(command, args, {
	stdio: 'inherit',
	env: { ...process.env, NODE_EXTRA_CA_CERTS: certPath, WASIM_TLS_DIR: dir }
})
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal))
child.on('exit', (code, signal) => {
	cleanup()
	process.exit(code ?? (signal ? 1 : 0))
})
