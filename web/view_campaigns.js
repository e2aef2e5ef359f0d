// Campaigns: strategy, state, a progress bar; a campaign's page adds each device's state and
// failure cause, the first failure, the attempts, and (admins only) pause/resume/abort/approve.

import {allPages, ApiError, get, post} from './api.js';
import {badge, bytes, el, link, progressBar, table, time} from './dom.js';
import {historyTable, pairs} from './view_fleets.js';

export function affects(ev, {arg}) {
  if (!ev.type.startsWith('campaign.')) return false;
  return !arg || ev.data.campaign_id === arg;
}

const FINAL = new Set(['completed', 'failed', 'rolled_back', 'withdrawn', 'superseded',
                       'skipped']);

// Which buttons a state offers (the server's transition table decides; a 409 is shown).
const ACTIONS = {
  rolling_out: ['pause', 'abort'],
  paused: ['resume', 'abort'],
  halted: ['abort'],
  awaiting_approval: ['approve', 'abort'],
};

export async function render(ctx) {
  if (ctx.arg) return renderOne(ctx);
  const list = await allPages('/api/v1/campaigns', 'campaigns');
  const rows = list.slice().reverse().map((c) => {
    const total = c.total || 0;
    const failed = (c.failed || 0) + (c.rolled_back || 0);
    return el('tr', {dataset: {campaign: c.id}},
      el('td', {}, link('#/campaigns/' + encodeURIComponent(c.id), c.id)),
      el('td', {}, c.model_id + ' ' + c.target_version),
      el('td', {}, audience(c)),
      el('td', {}, String(c.strategy).replaceAll('_', ' '),
         c.require_approval ? el('div', {class: 'sub'}, 'needs approval') : null),
      el('td', {}, badge(c.state)),
      el('td', {}, progressBar(total ? c.complete / total : 0, total ? failed / total : 0,
                               c.complete + '/' + total + (failed ? ', ' + failed + ' failed' : ''))),
      el('td', {}, time(c.created_at)));
  });
  return el('div', {}, el('h1', {}, 'Campaigns'),
            table(['campaign', 'model', 'devices', 'strategy', 'state', 'progress', 'created'],
                  rows, {dataset: {testid: 'campaigns'}}));
}

// Completed devices count 1, a download in flight its fraction: the bar moves with the bytes.
function progressOf(c) {
  const devices = c.devices || [];
  const total = devices.length || 1;
  let done = 0;
  let failed = 0;
  for (const d of devices) {
    if (d.state === 'completed') done += 1;
    else if (d.state === 'failed' || d.state === 'rolled_back') failed += 1;
    else if (d.state === 'downloading' && d.bytes_total > 0) {
      done += 0.9 * Math.min(1, d.bytes_done / d.bytes_total);
    } else if (d.state === 'applying') done += 0.95;
  }
  return {done: done / total, failed: failed / total};
}

async function act(ctx, id, action) {
  if (action === 'abort' &&
      !window.confirm('Abort campaign ' + id + '? Devices that have not completed it are ' +
                      'withdrawn.')) {
    return;
  }
  try {
    await post('/api/v1/campaigns/' + encodeURIComponent(id) + '/' + action);
    ctx.flash('Campaign ' + id + ': ' + action + ' done.', 'info');
  } catch (e) {
    const msg = e instanceof ApiError && e.status === 404 && action === 'approve'
                    ? 'approval is not available on this server'
                    : e.message;
    ctx.flash('Could not ' + action + ' campaign ' + id + ': ' + msg);
  }
  ctx.refresh(0);
}

async function renderOne(ctx) {
  const c = await get('/api/v1/campaigns/' + encodeURIComponent(ctx.arg));
  const s = c.summary || {};
  const p = progressOf(c);
  const pct = (p.done * 100).toFixed(1) + '%';
  const label = (s.complete || 0) + ' of ' + (s.total || 0) + ' complete, ' + (s.failures || 0) +
                ' failed · ' + pct;
  const actions = ctx.admin ? (ACTIONS[c.state] || []) : [];
  return el('div', {},
    el('p', {}, link('#/campaigns', '← all campaigns')),
    el('h1', {}, 'Campaign ', c.id, ' ', badge(c.state)),
    el('dl', {class: 'facts', dataset: {testid: 'campaign-facts'}},
       fact('model', c.model_id + ' ' + c.target_version + ' (' + bytes(c.target_size) + ')'),
       fact('fleet', c.fleet_id || '– (any)'),
       fact('target', targetFacts(c.target)),
       fact('strategy', strategyText(c)),
       fact('approval', approvalText(c)),
       fact('thresholds', 'halt at ' + (c.failure_threshold_count || 'no') + ' failures / ' +
                          (c.failure_threshold_percent || 'no') + ' %'),
       fact('created', time(c.created_at)), fact('updated', time(c.updated_at)),
       fact('bytes', bytes(s.bytes_served) + ' sent for ' + bytes(s.bytes_full_equivalent) +
                     ' of full downloads (saved ' + bytes(s.bytes_saved) + ')')),
    c.state === 'awaiting_approval'
        ? el('p', {class: 'note', dataset: {testid: 'approval-note'}},
             'The canary wave is done: the rest of the devices get this version once an ' +
             'operator approves' + (ctx.admin ? ' (Approve below).' : '.'))
        : null,
    el('div', {dataset: {testid: 'campaign-progress'}},
       progressBar(p.done, p.failed, label, 'campaign-bar')),
    actions.length
        ? el('div', {class: 'actions', dataset: {testid: 'campaign-actions'}},
             actions.map((a) => el('button', {type: 'button', class: a === 'abort' ? 'danger' : '',
                                              dataset: {action: a},
                                              onclick: () => act(ctx, c.id, a)}, capitalize(a))))
        : null,
    el('div', {class: 'counts'},
       ['waiting', 'pending', 'downloading', 'applying', 'complete', 'failed', 'rolled_back',
        'withdrawn', 'superseded'].map((k) => el('span', {}, k.replace('_', ' ') + ' ',
                                                  el('b', {}, s[k] ?? 0)))),
    firstFailure(c.first_failure),
    el('h2', {}, 'Devices'),
    table(['device', 'state', 'connection', 'progress', 'cause of failure', 'updated'],
          (c.devices || []).map(deviceRow), {dataset: {testid: 'campaign-devices'}}),
    el('h2', {}, 'Attempts in this campaign (newest first)'),
    historyTable(c.history || [], true));
}

// Who a campaign is for: its fleet and/or its tag and inventory filter.
function audience(c) {
  const t = c.target && typeof c.target === 'object' ? c.target : {};
  const filter = [...Object.entries(t.tags || {}), ...Object.entries(t.inventory || {})];
  if (!filter.length) return c.fleet_id || '–';
  return [c.fleet_id ? c.fleet_id + ' ∩ ' : '',
          filter.map(([k, v]) => el('span', {class: 'chip'}, k + '=' + v))];
}

function targetFacts(t) {
  const tags = t && t.tags && Object.keys(t.tags).length ? t.tags : null;
  const inv = t && t.inventory && Object.keys(t.inventory).length ? t.inventory : null;
  if (!tags && !inv) return 'every device of the fleet';
  return el('span', {dataset: {testid: 'campaign-target'}},
            tags ? ['tags ', pairs(tags)] : null, tags && inv ? ' and ' : null,
            inv ? ['inventory ', pairs(inv)] : null);
}

function approvalText(c) {
  if (!c.require_approval) return 'not required';
  if (c.approved_at) return ['approved ', time(c.approved_at)];
  return c.state === 'awaiting_approval' ? badge('awaiting_approval')
                                         : 'required after the canary wave';
}

function capitalize(a) { return a[0].toUpperCase() + a.slice(1); }

function fact(k, v) { return [el('dt', {}, k), el('dd', {}, v)]; }

function strategyText(c) {
  if (c.strategy === 'canary') {
    return 'canary (' + c.canary_percent + ' % first' +
           (c.require_approval ? ', then waits for approval)' : ')');
  }
  if (c.strategy === 'rolling') return 'rolling (batches of ' + c.batch_size + ')';
  return String(c.strategy).replaceAll('_', ' ');
}

function firstFailure(f) {
  if (!f) return null;
  return el('div', {class: 'first-failure', dataset: {testid: 'first-failure'}},
            el('b', {}, 'First failure: '),
            link('#/devices/' + encodeURIComponent(f.device_id), f.device_id), ' · ',
            String(f.outcome || '').replaceAll('_', ' '), ' at ', f.stage || 'unknown stage',
            ' · ', el('span', {class: 'error-text'}, f.error || ''), ' · ', time(f.at));
}

function deviceRow(d) {
  let progress = '';
  if (d.state === 'downloading' && d.bytes_total) {
    progress = progressBar(d.bytes_done / d.bytes_total, 0,
                           bytes(d.bytes_done) + ' / ' + bytes(d.bytes_total));
  } else if (FINAL.has(d.state) && d.bytes_served) {
    progress = bytes(d.bytes_served) + ' sent';
  }
  return el('tr', {dataset: {device: d.device_id, state: d.state}},
    el('td', {}, link('#/devices/' + encodeURIComponent(d.device_id), d.device_id)),
    el('td', {}, badge(d.state)), el('td', {}, badge(d.status)), el('td', {}, progress),
    el('td', {class: 'error-text', dataset: {testid: 'cause'}}, d.error || ''),
    el('td', {}, time(d.updated_at)));
}
