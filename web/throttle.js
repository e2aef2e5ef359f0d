// The dashboard's refresh scheduler: a throttle with a maximum wait, not a debounce. The first
// request schedules fn() `wait` ms later; requests inside that window do not push it back (a
// rollout sends events every few ms, and a debounce that restarts its timer on each never
// redraws). A shorter delay (0 after a button) brings the pending run forward. At most one fn()
// runs at a time: a run due while one is in flight follows as soon as it ends.
export function throttle(fn, {wait = 250, clock = globalThis} = {}) {
  const now = () => (clock.now ? clock.now() : Date.now());
  let timer = null;
  let due = 0;
  let running = false;
  let again = false;

  async function run() {
    timer = null;
    if (running) {
      again = true;
      return;
    }
    running = true;
    try {
      await fn();
    } catch {
      // fn reports its own errors (the view shows them); the scheduler keeps going.
    } finally {
      running = false;
    }
    if (again) {
      again = false;
      schedule(0);
    }
  }

  function schedule(delay = wait) {
    const at = now() + delay;
    if (timer !== null) {
      if (at >= due) return;
      clock.clearTimeout(timer);
    }
    due = at;
    timer = clock.setTimeout(run, delay);
  }
  return schedule;
}
