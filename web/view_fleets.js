// Fleets and devices: who is online, what each device runs, its platform/inventory, when it
// was last seen and its last error; a device's page adds its failed-attempt history.

import {allDevices, allPages, get} from './api.js';
import {badge, bytes, el, link, progressBar, table, time} from './dom.js';

export function affects(ev, {arg}) {
  if (ev.type.startsWith('device.')) return !arg || ev.data.device_id === arg;
  if (ev.type === 'campaign.state') return !arg;
  return ev.type === 'campaign.device' && (!arg || ev.data.device_id === arg);
}

export async function render({name, arg}) {
  if (name === 'devices' && arg) return renderDevice(arg);
  const [devices, fleets, active] = await Promise.all(
      [allDevices(), get('/api/v1/fleets'), activeCampaignList()]);
  const count = (s) => devices.filter((d) => d.status === s).length;
  const failing = devices.filter((d) => lastError(d)).length;
  const online = new Set(devices.filter((d) => d.status === 'online').map((d) => d.id));
  return el('div', {},
    el('h1', {}, 'Fleets & devices'),
    el('div', {class: 'cards'},
       card('devices', devices.length), card('online', count('online'), 'good'),
       card('offline', count('offline'), count('offline') ? 'bad' : ''),
       card('never seen', count('unknown')), card('with an error', failing, failing ? 'bad' : '')),
    active.length ? el('h2', {}, 'Campaigns in progress') : null,
    active.length ? activeCampaigns(active) : null,
    el('h2', {}, 'Fleets'),
    table(['fleet', 'name', 'devices', 'online', 'description'],
          fleets.map((f) => el('tr', {},
            el('td', {}, f.id), el('td', {}, f.name),
            el('td', {class: 'num'}, (f.devices || []).length),
            el('td', {class: 'num'}, (f.devices || []).filter((d) => online.has(d)).length),
            el('td', {}, f.description || ''))), {dataset: {testid: 'fleets'}}),
    el('h2', {}, 'Devices'),
    table(['device', 'status', 'fleet', 'model', 'assigned', 'platform', 'last seen',
           'last error'],
          devices.map(deviceRow), {dataset: {testid: 'devices'}}));
}

const ACTIVE = new Set(['rolling_out', 'paused', 'awaiting_approval', 'halted']);

// The campaigns in progress, asked of the server by state (one `?state=` each, every page), so
// the thousands of finished ones are never downloaded; in creation order, each once.
async function activeCampaignList() {
  const lists = await Promise.all([...ACTIVE].map(
      (s) => allPages('/api/v1/campaigns?state=' + encodeURIComponent(s), 'campaigns')));
  const byId = new Map();
  for (const c of lists.flat()) {
    if (ACTIVE.has(c.state)) byId.set(c.id, c);
  }
  return [...byId.values()].sort((a, b) => String(a.created_at).localeCompare(String(b.created_at)) ||
                                           String(a.id).localeCompare(String(b.id)));
}

function activeCampaigns(list) {
  return table(['campaign', 'model', 'fleet', 'state', 'progress'], list.map((c) => {
    const failed = (c.failed || 0) + (c.rolled_back || 0);
    const total = c.total || 0;
    return el('tr', {dataset: {campaign: c.id}},
      el('td', {}, link('#/campaigns/' + encodeURIComponent(c.id), c.id)),
      el('td', {}, c.model_id + ' ' + c.target_version), el('td', {}, c.fleet_id || '–'),
      el('td', {}, badge(c.state)),
      el('td', {}, progressBar(total ? c.complete / total : 0, total ? failed / total : 0,
                               c.complete + ' of ' + total + ' complete' +
                               (failed ? ', ' + failed + ' failed' : ''))));
  }), {dataset: {testid: 'active-campaigns'}});
}

function card(label, value, cls) {
  return el('div', {class: 'card ' + (cls || '')}, el('div', {class: 'value'}, value),
            el('div', {class: 'label'}, label));
}

export function lastError(d) {
  const r = d.last_update_result;
  return r && typeof r === 'object' && r.failed ? r.failed.error || 'failed' : '';
}

function modelOf(d) {
  return d.current_model ? d.current_model + ' ' + (d.current_model_version || '') : '–';
}

function platformOf(d) {
  const inv = d.inventory && Object.keys(d.inventory).length ? d.inventory : null;
  const p = d.platform || {};
  const os = (inv && inv.os) || p.os;
  const arch = (inv && inv.arch) || p.arch;
  const parts = [os, inv && inv.os_version, arch].filter(Boolean);
  return parts.length ? parts.join(' · ') : '–';
}

function deviceRow(d) {
  const a = d.assignment;
  const err = lastError(d);
  return el('tr', {dataset: {device: d.id}},
    el('td', {}, link('#/devices/' + encodeURIComponent(d.id), d.id),
       d.name && d.name !== d.id ? el('div', {class: 'sub'}, d.name) : null),
    el('td', {}, badge(d.status),
       d.auth_state && d.auth_state !== 'accepted' ? badge(d.auth_state) : null),
    el('td', {}, (d.fleets || []).join(', ') || '–'),
    el('td', {}, modelOf(d)),
    el('td', {}, a ? a.model_id + ' ' + a.version : '–'),
    el('td', {}, platformOf(d)),
    el('td', {}, time(d.last_heartbeat)),
    el('td', {class: 'error-text', dataset: {testid: 'last-error'}}, err));
}

// {"site":"lyon"} as key=value chips; '–' when none.
export function pairs(obj) {
  const entries = Object.entries(obj && typeof obj === 'object' ? obj : {});
  if (!entries.length) return '–';
  return entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([k, v]) => el('span', {class: 'chip'}, k + '=' + v));
}

async function renderDevice(id) {
  const d = await get('/api/v1/devices/' + encodeURIComponent(id));
  const inv = d.inventory && typeof d.inventory === 'object' ? d.inventory : {};
  const attrs = inv.attributes && typeof inv.attributes === 'object' ? inv.attributes : {};
  const rows = [
    ['name', d.name], ['status', badge(d.status)], ['enrollment', d.auth_state],
    ['fleets', (d.fleets || []).join(', ') || '–'], ['running', modelOf(d)],
    ['sha-256', d.current_sha256 || '–'],
    ['assigned', d.assignment ? d.assignment.model_id + ' ' + d.assignment.version +
                                (d.assignment.campaign_id ? ' (campaign ' +
                                 d.assignment.campaign_id + ')' : '') : '–'],
    ['platform', platformOf(d)], ['agent', inv.agent_version || d.agent_version || '–'],
    ['free disk', typeof inv.free_disk_bytes === 'number' ? bytes(inv.free_disk_bytes) : '–'],
    ['attributes', pairs(attrs)],
    ['inventory reported', inv.updated_at ? time(inv.updated_at) : 'never'],
    ['tags', pairs(d.tags)],
    ['last seen', time(d.last_heartbeat)], ['last error', lastError(d) || '–'],
    ['bytes received', bytes(d.bytes_served) + ' (full downloads would be ' +
                       bytes(d.bytes_full_equivalent) + ')'],
  ];
  return el('div', {},
    el('p', {}, link('#/fleets', '← all devices')),
    el('h1', {}, 'Device ', d.id),
    el('dl', {class: 'facts', dataset: {testid: 'device-facts'}},
       rows.map(([k, v]) => [el('dt', {}, k), el('dd', {dataset: {fact: k}}, v)])),
    el('h2', {}, 'History (failed attempts, newest first)'),
    historyTable(d.history || [], false));
}

// Attempts as in a device's or a campaign's `history`.
export function historyTable(history, withDevice) {
  const headers = ['when', withDevice ? 'device' : 'campaign', 'version', 'outcome', 'stage',
                   'error'];
  return table(headers, history.map((h) => el('tr', {},
    el('td', {}, time(h.at)),
    el('td', {}, withDevice ? link('#/devices/' + encodeURIComponent(h.device_id), h.device_id)
                            : h.campaign_id ? link('#/campaigns/' +
                                                   encodeURIComponent(h.campaign_id),
                                                   h.campaign_id) : '–'),
    el('td', {}, (h.model_id || '') + ' ' + (h.version || '')),
    el('td', {}, badge(h.outcome), h.local ? el('span', {class: 'sub'}, ' local fault') : null),
    el('td', {}, h.stage || ''),
    el('td', {class: 'error-text'}, h.error || '',
       h.output ? el('details', {}, el('summary', {}, 'output'),
                     el('pre', {}, h.output)) : null))), {dataset: {testid: 'history'}});
}
