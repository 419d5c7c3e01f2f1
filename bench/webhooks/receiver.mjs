// The webhook benchmark's receiver: a minimal keep-alive HTTP server that answers every POST with
// 204 at once and records, per message.received event (by its text) and message.status event
// (by "<message id>:<status>"), the wall-clock arrival time in ms (performance.timeOrigin +
// performance.now(): the same clock as the sender's time.time()).
// It does not verify signatures: the benchmark measures delivery, and verification would
// only add the receiver's own CPU to the latency. GET /results returns
// {"<key>": [arrival_ms, event_ms], ...} and the number of POSTs.
//
// Usage: node receiver.mjs PORT   (prints "listening PORT" when ready)
import http from 'node:http';
import { performance } from 'node:perf_hooks';

const arrivals = new Map();
let posts = 0;
const server = http.createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/results') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ posts, arrivals: Object.fromEntries(arrivals) }));
    return;
  }
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const at = performance.timeOrigin + performance.now();
    posts++;
    try {
      const event = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      // Keyed by the received text, or by "<message id>:<status>" for status events.
      let key;
      if (event.type === 'message.received') key = event.data?.message?.text;
      else if (event.type === 'message.status') key = `${event.data?.message_id}:${event.data?.status}`;
      // [arrival, the event's time in the gateway (its log entry), ms]
      if (typeof key === 'string' && !arrivals.has(key)) arrivals.set(key, [at, Date.parse(event.timestamp)]);
    } catch {
      // not JSON: counted, not recorded
    }
    res.writeHead(204);
    res.end();
  });
});
server.keepAliveTimeout = 30000;
server.listen(Number(process.argv[2] || 0), '127.0.0.1', () => {
  console.log(`listening ${server.address().port}`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
