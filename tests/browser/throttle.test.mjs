// web/throttle.js (the dashboard's refresh scheduler) in Node with a fake clock: a burst of
// events every few ms must still redraw every 250 ms (a debounce that pushes its timer back on
// each event never redraws during a rollout), a 0 delay (a button) runs at once, and at most one
// refresh is in flight. usage: node throttle.test.mjs <path to web/>
import assert from 'node:assert/strict';
import path from 'node:path';
import {pathToFileURL} from 'node:url';

const {throttle} = await import(pathToFileURL(path.join(process.argv[2], 'throttle.js')).href);

// Fake timers: advance() moves time 1 ms at a time, firing what is due and letting the
// promises it started settle.
function fakeClock() {
  let now = 0;
  let nextId = 1;
  const timers = new Map();
  const clock = {
    now: () => now,
    setTimeout: (fn, ms) => {
      const id = nextId++;
      timers.set(id, {at: now + Math.max(0, ms), fn});
      return id;
    },
    clearTimeout: (id) => { timers.delete(id); },
    async advance(ms) {
      for (let i = 0; i < ms; i++) {
        now += 1;
        for (const [id, t] of [...timers]) {
          if (t.at <= now) {
            timers.delete(id);
            t.fn();
          }
        }
        for (let k = 0; k < 5; k++) await new Promise((r) => setImmediate(r));
      }
    },
  };
  return clock;
}

// 1. A burst: an event every 4 ms for 2 s. The first redraw comes 250 ms after the first event,
//    then one per 250 ms window (not zero, as with a debounce).
{
  const clock = fakeClock();
  const at = [];
  const refresh = throttle(async () => { at.push(clock.now()); }, {wait: 250, clock});
  for (let t = 0; t < 2000; t += 4) {
    refresh();
    await clock.advance(4);
  }
  await clock.advance(600);
  assert.ok(at.length >= 7 && at.length <= 9, 'redraws during a 2 s burst: ' + at.length);
  assert.equal(at[0], 250);
  for (let i = 1; i < at.length; i++) {
    assert.ok(at[i] - at[i - 1] <= 260, 'gap between redraws ' + (at[i] - at[i - 1]));
  }
}

// 2. A single event redraws once; nothing afterwards.
{
  const clock = fakeClock();
  let n = 0;
  const refresh = throttle(async () => { n += 1; }, {wait: 250, clock});
  refresh();
  await clock.advance(249);
  assert.equal(n, 0);
  await clock.advance(2);
  assert.equal(n, 1);
  await clock.advance(1000);
  assert.equal(n, 1);
}

// 3. refresh(0) (after a button) runs at once even with an event's refresh pending, and the
//    pending one is not run twice.
{
  const clock = fakeClock();
  let n = 0;
  const refresh = throttle(async () => { n += 1; }, {wait: 250, clock});
  refresh();
  await clock.advance(10);
  refresh(0);
  await clock.advance(1);
  assert.equal(n, 1);
  await clock.advance(1000);
  assert.equal(n, 1);
}

// 4. At most one refresh in flight: a slow render (1 s) with events arriving meanwhile runs
//    once more after it ends, never concurrently.
{
  const clock = fakeClock();
  let inFlight = 0;
  let maxInFlight = 0;
  let n = 0;
  const refresh = throttle(async () => {
    n += 1;
    inFlight += 1;
    maxInFlight = Math.max(maxInFlight, inFlight);
    await new Promise((r) => clock.setTimeout(r, 1000));
    inFlight -= 1;
  }, {wait: 250, clock});
  for (let t = 0; t < 1500; t += 10) {
    refresh();
    await clock.advance(10);
  }
  await clock.advance(5000);
  assert.equal(maxInFlight, 1);
  assert.ok(n >= 2 && n <= 3, 'slow renders: ' + n);
}

console.log('throttle: ok');
