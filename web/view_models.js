// Models: versions (size, format, upload time) and the patches prepared between them
// (strategy, size, savings against the full file, state).

import {allPages, get, getOptional} from './api.js';
import {badge, bytes, el, link, table, time} from './dom.js';

export function affects(ev) {
  if (!ev.type.startsWith('patch.')) return false;
  patchEvents++;
  return true;
}

// A version's meta lists every tensor (large for big models) and changes only when a patch
// to it is built: re-read it at most every 30 s unless a patch is still pending or an event
// said one finished.
const META_TTL_MS = 30000;
const metaCache = new Map();  // url -> {at, meta}
let patchEvents = 0;
// SHA-256 of zero bytes: the base of a first-install patch (the model compressed on its own).
const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
let cachedAtEvents = 0;

async function meta(url) {
  const hit = metaCache.get(url);
  const pending = hit && hit.meta && (hit.meta.patches || []).some((p) => p.state === 'pending');
  if (hit && !pending && cachedAtEvents === patchEvents && Date.now() - hit.at < META_TTL_MS) {
    return hit.meta;
  }
  const m = await getOptional(url);
  metaCache.set(url, {at: Date.now(), meta: m});
  return m;
}

export async function render({arg}) {
  if (arg) return renderOne(arg);
  const list = await allPages('/api/v1/models', 'models');
  return el('div', {}, el('h1', {}, 'Models'),
    table(['model', 'versions', 'latest'], list.map((m) => el('tr', {},
      el('td', {}, link('#/models/' + encodeURIComponent(m.model_id), m.model_id)),
      el('td', {class: 'num'}, m.version_count), el('td', {}, m.latest_version || '–'))),
      {dataset: {testid: 'models'}}));
}

async function renderOne(id) {
  const base = '/api/v1/models/' + encodeURIComponent(id);
  const m = await get(base);
  const versions = m.versions || [];
  // Patches to each version: in the model detail when the server lists them there, else in
  // each version's meta.
  const metas = await Promise.all(versions.map((v) => v.patches
      ? {patches: v.patches, tensor_count: v.tensor_count}
      : meta(base + '/versions/' + encodeURIComponent(v.version) + '/meta')));
  cachedAtEvents = patchEvents;
  const bySha = new Map(versions.map((v) => [v.sha256, v.version]));
  const patchRows = [];
  versions.forEach((v, i) => {
    for (const p of (metas[i] && metas[i].patches) || []) {
      const saved = v.size_bytes && p.size_bytes ? 1 - p.size_bytes / v.size_bytes : null;
      patchRows.push(el('tr', {},
        el('td', {}, (p.base_sha256 === EMPTY_SHA256 ? '(empty)'
                     : p.base_version || bySha.get(p.base_sha256) || shortSha(p.base_sha256)) +
                     ' → ' + v.version),
        el('td', {}, badge(p.state)), el('td', {}, p.strategy || '–'),
        el('td', {class: 'num'}, p.size_bytes ? bytes(p.size_bytes) : '–'),
        el('td', {class: 'num'}, bytes(v.size_bytes)),
        el('td', {class: 'num'}, saved === null || p.state !== 'ready' ? '–'
                                 : (saved * 100).toFixed(1) + ' %'),
        el('td', {class: 'error-text'}, p.error || '')));
    }
  });
  return el('div', {},
    el('p', {}, link('#/models', '← all models')),
    el('h1', {}, 'Model ', m.model_id),
    el('h2', {}, 'Versions'),
    table(['version', 'size', 'format', 'tensors', 'sha-256', 'uploaded'],
          versions.map((v, i) => el('tr', {},
            el('td', {}, v.version), el('td', {class: 'num'}, bytes(v.size_bytes)),
            el('td', {}, v.format || '–'),
            el('td', {class: 'num'}, metas[i] && metas[i].tensor_count != null
                                         ? metas[i].tensor_count : '–'),
            el('td', {class: 'mono', title: v.sha256 || ''}, shortSha(v.sha256)),
            el('td', {}, time(v.uploaded_at)))), {dataset: {testid: 'versions'}}),
    el('h2', {}, 'Patches between versions'),
    table(['patch', 'state', 'strategy', 'size', 'full file', 'saved', 'error'], patchRows,
          {dataset: {testid: 'patches'}}));
}

function shortSha(s) { return s ? String(s).slice(0, 12) + '…' : '–'; }
