// web/api.js's list paging in Node against a fake fetch: campaigns and models lists carry
// `next_after`; allPages() follows it until null, bounded by maxPages, and stops when the
// server repeats a cursor. usage: node paging.test.mjs <path to web/>
import assert from 'node:assert/strict';
import path from 'node:path';
import {pathToFileURL} from 'node:url';

globalThis.sessionStorage = {getItem: () => 'oxide_test', setItem() {}, removeItem() {}};
const api = await import(pathToFileURL(path.join(process.argv[2], 'api.js')).href);
assert.equal(typeof api.allPages, 'function', 'api.js exports allPages');

// A fake server with `n` campaigns, paged `limit` at a time by id.
function serve(n, {repeatCursor = false} = {}) {
  const ids = Array.from({length: n}, (_, i) => 'c-' + String(i).padStart(5, '0'));
  const urls = [];
  globalThis.fetch = async (url, init) => {
    urls.push(url);
    assert.equal(init.headers.Authorization, 'Bearer oxide_test');
    const u = new URL(url, 'http://x');
    const limit = Number(u.searchParams.get('limit') || 500);
    const after = u.searchParams.get('after') || '';
    const rest = ids.filter((id) => id > after);
    const page = rest.slice(0, limit);
    const more = rest.length > limit;
    const next = repeatCursor ? ids[limit - 1] : (more ? page[page.length - 1] : null);
    return new Response(JSON.stringify({campaigns: page.map((id) => ({id})), next_after: next}),
                        {status: 200, headers: {'content-type': 'application/json'}});
  };
  return urls;
}

// 2,345 campaigns: every one comes back, in order, in 3 requests of 1000.
let urls = serve(2345);
let all = await api.allPages('/api/v1/campaigns', 'campaigns');
assert.equal(all.length, 2345);
assert.equal(all[0].id, 'c-00000');
assert.equal(all[2344].id, 'c-02344');
assert.equal(urls.length, 3);
assert.match(urls[0], /^\/api\/v1\/campaigns\?limit=1000$/);
assert.match(urls[1], /after=c-00999/);

// A query string already present is kept (the state filter).
urls = serve(10);
all = await api.allPages('/api/v1/campaigns?state=rolling_out', 'campaigns');
assert.equal(all.length, 10);
assert.equal(urls[0], '/api/v1/campaigns?state=rolling_out&limit=1000');

// Bounded: at most maxPages requests.
urls = serve(50000);
all = await api.allPages('/api/v1/campaigns', 'campaigns', 3);
assert.equal(urls.length, 3);
assert.equal(all.length, 3000);

// A server that repeats its cursor does not loop.
urls = serve(5000, {repeatCursor: true});
all = await api.allPages('/api/v1/campaigns', 'campaigns');
assert.equal(urls.length, 2);

console.log('paging: ok');
