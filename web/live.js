// Live updates: GET /api/v1/events read with fetch() and a ReadableStream (EventSource cannot
// send the Authorization header, and the token never goes into a URL). Resumes after a drop
// with Last-Event-ID (+ stream_id, so a restarted server is noticed); `reset` means events were
// lost and the page re-fetches. When the endpoint is missing (404) or the stream keeps
// failing, the page polls every 2 s instead.

import {session} from './api.js';

export const POLL_MS = 2000;
const RETRY_MS = 3000;

export class Live {
  // onEvent({type, data}) for each event; onReset() when state must be re-fetched;
  // onMode('live'|'polling'|'off') when the mode changes.
  constructor({onEvent, onReset, onMode}) {
    this.onEvent = onEvent;
    this.onReset = onReset;
    this.onMode = onMode;
    this.lastId = '';
    this.streamId = '';
    this.abort = null;
    this.pollTimer = null;
    this.retryTimer = null;
    this.stopped = true;
    // Bumped by start() and stop(): a connection of an earlier session (signed out, maybe
    // another token since) that ends late must neither retry nor switch the mode.
    this.generation = 0;
  }

  // A new session follows from now on: nothing is resumed from an earlier one.
  start() {
    this.stopped = false;
    this.generation++;
    this.lastId = '';
    this.streamId = '';
    this.connect();
  }

  stop() {
    this.stopped = true;
    this.generation++;
    if (this.abort) this.abort.abort();
    clearTimeout(this.retryTimer);
    clearInterval(this.pollTimer);
    this.pollTimer = null;
    this.onMode('off');
  }

  poll() {
    if (this.pollTimer || this.stopped) return;
    this.onMode('polling');
    this.pollTimer = setInterval(() => this.onReset(), POLL_MS);
  }

  unpoll() {
    clearInterval(this.pollTimer);
    this.pollTimer = null;
  }

  async connect() {
    if (this.stopped) return;
    const gen = this.generation;
    const current = () => gen === this.generation && !this.stopped;
    if (this.abort) this.abort.abort();  // never two streams at once
    const abort = new AbortController();
    this.abort = abort;
    const headers = {Authorization: 'Bearer ' + session.token, Accept: 'text/event-stream'};
    if (this.lastId) headers['Last-Event-ID'] = this.lastId;
    const url = '/api/v1/events' + (this.streamId ? '?stream_id=' +
                                    encodeURIComponent(this.streamId) : '');
    let resp;
    try {
      resp = await fetch(url, {headers, signal: abort.signal, cache: 'no-store'});
    } catch {
      if (current() && this.abort === abort) this.retry();
      return;
    }
    if (!current() || this.abort !== abort) return;  // replaced while connecting
    if (resp.status === 404) {
      // No event stream on this server: poll for good.
      this.poll();
      return;
    }
    if (!resp.ok || !resp.body) return this.retry();
    this.unpoll();
    this.onMode('live');
    // Anything may have changed while we were not listening.
    if (!this.lastId) this.onReset();
    try {
      await this.read(resp.body, current);
    } catch {
      // dropped: resume below
    }
    if (current() && this.abort === abort) this.retry();
  }

  retry() {
    if (this.stopped) return;
    this.poll();  // keep the page fresh while the stream is down
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.connect(), RETRY_MS);
  }

  // Reads events until the stream ends or `current()` says this session is over.
  async read(body, current = () => true) {
    const reader = body.pipeThrough(new TextDecoderStream()).getReader();
    let buf = '';
    for (;;) {
      const {value, done} = await reader.read();
      if (done || !current()) return;
      buf += value;
      // Events end with a blank line (any of \n, \r\n, \r as line ends).
      for (;;) {
        const m = /\r\n\r\n|\n\n|\r\r/.exec(buf);
        if (!m) break;
        const block = buf.slice(0, m.index);
        buf = buf.slice(m.index + m[0].length);
        this.dispatch(block);
      }
    }
  }

  dispatch(block) {
    let type = 'message';
    let id = null;
    const data = [];
    for (const line of block.split(/\r\n|\n|\r/)) {
      if (line === '' || line.startsWith(':')) continue;  // keepalive comment
      const i = line.indexOf(':');
      const field = i < 0 ? line : line.slice(0, i);
      let value = i < 0 ? '' : line.slice(i + 1);
      if (value.startsWith(' ')) value = value.slice(1);
      if (field === 'event') type = value;
      else if (field === 'data') data.push(value);
      else if (field === 'id') id = value;
    }
    if (id !== null) this.lastId = id;
    if (!data.length && type === 'message') return;
    let parsed = null;
    try {
      parsed = JSON.parse(data.join('\n'));
    } catch {
      parsed = null;
    }
    if (type === 'hello') {
      const sid = parsed && parsed.stream_id;
      if (this.streamId && sid && sid !== this.streamId) this.onReset();
      if (sid) this.streamId = sid;
      return;
    }
    if (type === 'reset') {
      this.onReset();
      return;
    }
    this.onEvent({type, data: parsed || {}});
  }
}
