// web/live.js (the dashboard's event-stream reader) in Node against a fake fetch: SSE parsing
// across chunk boundaries and line-ending styles, keepalive comments, the resume headers
// (Last-Event-ID, stream_id), `reset`, and the 2 s polling fallback when /api/v1/events is 404.
// usage: node live_sse.test.mjs <path to web/>
import assert from 'node:assert/strict';
import path from 'node:path';
import {pathToFileURL} from 'node:url';

globalThis.sessionStorage = {getItem: () => 'oxide_test', setItem() {}, removeItem() {}};
const {Live} = await import(pathToFileURL(path.join(process.argv[2], 'live.js')).href);

const calls = [];
const replies = [];
globalThis.fetch = async (url, init) => {
  calls.push({url, headers: init.headers});
  return replies.shift()();
};
function stream(chunks) {
  const enc = new TextEncoder();
  return () => new Response(new ReadableStream({
    start(c) {
      for (const s of chunks) c.enqueue(enc.encode(s));
      c.close();
    },
  }), {status: 200, headers: {'content-type': 'text/event-stream'}});
}

// Polls cond() until true or `ms` pass (the retry and poll timers are real ones).
async function until(what, cond, ms = 10000) {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('timed out waiting for ' + what);
    await new Promise((r) => setTimeout(r, 20));  // the polling period of a deadline wait
  }
}

replies.push(stream([
  'id: 1\nevent: hello\ndata: {"stream_id":"ab12","last_event_id":0}\n\n: keepalive\n\n',
  'id: 2\nevent: campaign.st', 'ate\ndata: {"campaign_id":"c-1",',
  '"state":"paused"}\r\n\r\nid: 3\r\nevent: device.changed\r\ndata:{"device_id":"d<1>"}\r\n\r\n',
  'id: 4\nevent: reset\ndata: {"reason":"gap"}\n\n',
]));
replies.push(() => new Response('{"error":{"code":"not_found"}}', {status: 404}));

const events = [];
const modes = [];
let resets = 0;
const live = new Live({onEvent: (e) => events.push(e), onReset: () => resets++,
                       onMode: (m) => modes.push(m)});
live.start();
await until('the first stream to be read', () => events.length === 2 && resets >= 2);
// One re-fetch when the stream opened (nothing was being followed) and one for `reset`
// (checked before the 2 s polling timer that covers the reconnection can fire).
assert.equal(resets, 2);
await until('the second connection', () => calls.length === 2);

assert.equal(calls[0].url, '/api/v1/events');
assert.equal(calls[0].headers.Authorization, 'Bearer oxide_test');
assert.equal(calls[0].headers['Last-Event-ID'], undefined);
assert.deepEqual(events.map((e) => e.type), ['campaign.state', 'device.changed']);
assert.equal(events[0].data.state, 'paused', 'an event split across chunks is parsed whole');
assert.equal(events[1].data.device_id, 'd<1>', 'CRLF lines and "data:" without a space');
assert.equal(calls[1].url, '/api/v1/events?stream_id=ab12', 'resumes with the stream id');
assert.equal(calls[1].headers['Last-Event-ID'], '4', 'resumes after the last id');

await until('the polling fallback', () => modes.at(-1) === 'polling');
const before = resets;
await until('a poll', () => resets > before, 5000);
live.stop();
assert.equal(modes.at(-1), 'off');
assert.equal(calls.length, 2, 'a 404 is not retried');

// Signing in again starts a new session: nothing resumed from the earlier one, and the late
// end of a stream of the earlier session neither retries nor changes the mode.
let endOld;
replies.push(() => new Response(new ReadableStream({start(c) { endOld = () => c.close(); }}),
                                {status: 200, headers: {'content-type': 'text/event-stream'}}));
replies.push(() => new Response(new ReadableStream({start(c) {
  c.enqueue(new TextEncoder().encode('id: 9\nevent: hello\ndata: {"stream_id":"cd34"}\n\n'));
}}), {status: 200, headers: {'content-type': 'text/event-stream'}}));  // stays open
live.start();
await until('the third connection', () => calls.length === 3 && endOld);
assert.equal(calls[2].url, '/api/v1/events', 'a new session does not resume');
assert.equal(calls[2].headers['Last-Event-ID'], undefined);
live.stop();
live.start();
await until('the fourth connection', () => calls.length === 4 && modes.at(-1) === 'live');
endOld();
await new Promise((r) => setTimeout(r, 50));  // lets the old stream's end run (none must follow)
assert.equal(modes.at(-1), 'live', "the earlier session's stream ending changes nothing");
live.stop();
console.log('live_sse: PASS');
