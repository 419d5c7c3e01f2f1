// A webhook receiver for the integration tests. It verifies every request with the npm
// standardwebhooks package against each secret configured for the path's name, then appends what
// it saw to <dir>/received.jsonl (kept across restarts, so a test can stop and start it).
// Behaviour per name comes from <dir>/config.json, re-read on each request:
//   {"<name>": {"secrets": ["whsec_..."], "status": 200, "delay_ms": 0}}
// Usage: node receiver.mjs <dir> [port]   (prints "listening <port>")
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { Webhook } from 'standardwebhooks';

const dir = process.argv[2];
const port = Number(process.argv[3] || 0);
const log = path.join(dir, 'received.jsonl');

function config() {
  try {
    return JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
  } catch {
    return {};
  }
}

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks).toString('utf8');
    const name = req.url.split('/').filter(Boolean).pop() || '';
    const conf = config()[name] || {};
    const headers = {
      'webhook-id': req.headers['webhook-id'],
      'webhook-timestamp': req.headers['webhook-timestamp'],
      'webhook-signature': req.headers['webhook-signature'],
    };
    const verifiedWith = [];
    let error = null;
    for (const [i, secret] of (conf.secrets || []).entries()) {
      try {
        new Webhook(secret).verify(body, headers);
        verifiedWith.push(i);
      } catch (e) {
        error = String(e.message || e);
      }
    }
    let parsed = null;
    try {
      parsed = JSON.parse(body);
    } catch {}
    const status = conf.status || 200;
    const answer = () => {
      fs.appendFileSync(log, JSON.stringify({
        name, id: headers['webhook-id'], timestamp: headers['webhook-timestamp'],
        signature: headers['webhook-signature'], content_type: req.headers['content-type'],
        verified_with: verifiedWith, error, body: parsed, status, at: Date.now(),
      }) + '\n');
      res.writeHead(status, { 'Content-Type': 'text/plain' });
      res.end('ok');
    };
    if (conf.delay_ms) setTimeout(answer, conf.delay_ms); else answer();
  });
});

server.listen(port, '127.0.0.1', () => {
  process.stdout.write(`listening ${server.address().port}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
