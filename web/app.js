// The dashboard's shell: login/logout, hash routing between the views, live refresh.

import {ApiError, roleOf, session, setUnauthorizedHandler} from './api.js';
import {el} from './dom.js';
import {Live} from './live.js';
import {throttle} from './throttle.js';
import * as bandwidth from './view_bandwidth.js';
import * as campaigns from './view_campaigns.js';
import * as fleets from './view_fleets.js';
import * as models from './view_models.js';

const $ = (id) => document.getElementById(id);

// '#/campaigns/c-1' → {name: 'campaigns', arg: 'c-1'}
function route() {
  const parts = location.hash.replace(/^#\/?/, '').split('/');
  const name = parts[0] || 'fleets';
  const arg = parts.length > 1 ? decodeURIComponent(parts.slice(1).join('/')) : '';
  return {name, arg};
}

const VIEWS = {fleets, devices: fleets, campaigns, models, bandwidth};

let renderSeq = 0;

export function flash(message, kind = 'error') {
  const f = $('flash');
  f.replaceChildren(el('span', {}, message),
                    el('button', {type: 'button', class: 'link', onclick: () => {
                      f.hidden = true;
                    }}, 'dismiss'));
  f.className = 'flash ' + kind;
  f.hidden = false;
}

// Renders the current view. Renders overlap when events arrive quickly: only the newest one
// is shown. `navigated`: the user asked for this view (else it is a refresh).
async function render(navigated = false) {
  if (!session.role) return;
  const {name, arg} = route();
  const view = VIEWS[name] || fleets;
  for (const a of document.querySelectorAll('#nav a')) {
    const current = a.dataset.view === name || (name === 'devices' && a.dataset.view === 'fleets');
    if (current) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  // A refresh does not redraw under the user's fingers (typing a price).
  const active = document.activeElement;
  if (!navigated && active && active.tagName === 'INPUT' && $('view').contains(active)) return;
  const seq = ++renderSeq;
  let node;
  try {
    node = await view.render({name, arg, admin: session.role === 'admin', flash, refresh});
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) return;
    node = el('p', {class: 'error'}, 'Could not load this view: ' + e.message);
  }
  if (seq !== renderSeq) return;
  const scroll = window.scrollY;
  $('view').replaceChildren(node);
  window.scrollTo(0, scroll);
}

// Throttled: a burst of events redraws at most every 250 ms (and still redraws while the burst
// lasts), one render at a time; refresh(0) redraws now (after a button).
const refresh = throttle(() => render(), {wait: 250});

const live = new Live({
  onEvent: (ev) => {
    const {name, arg} = route();
    const view = VIEWS[name] || fleets;
    if (!view.affects || view.affects(ev, {name, arg})) refresh();
  },
  onReset: () => refresh(0),
  onMode: (mode) => {
    const l = $('live');
    l.hidden = mode === 'off';
    l.dataset.mode = mode;
    l.textContent = mode === 'live' ? '● live' : 'polling every 2 s';
    l.title = mode === 'live' ? 'following the server\'s event stream'
                              : 'the event stream is not available: the page re-reads every 2 s';
  },
});

function showLogin(message) {
  session.role = '';
  live.stop();
  $('nav').hidden = true;
  $('who').hidden = true;
  $('logout').hidden = true;
  $('view').hidden = true;
  $('view').replaceChildren();
  $('login').hidden = false;
  const err = $('login-error');
  err.hidden = !message;
  err.textContent = message || '';
  $('token').value = '';
  $('token').focus();
}

function showApp() {
  $('login').hidden = true;
  $('nav').hidden = false;
  $('view').hidden = false;
  $('logout').hidden = false;
  const who = $('who');
  who.hidden = false;
  who.dataset.role = session.role;
  who.textContent = session.role === 'admin' ? 'admin' : 'viewer (read only)';
  live.start();
  render(true);
}

async function login(token) {
  try {
    session.role = await roleOf(token);
  } catch (e) {
    session.token = '';
    showLogin(e.status === 401 ? 'This token was refused by the server.' : e.message);
    return;
  }
  session.token = token;
  showApp();
}

function logout() {
  session.token = '';
  showLogin('');
}

document.addEventListener('DOMContentLoaded', () => {
  $('login-form').addEventListener('submit', (e) => {
    e.preventDefault();
    login($('token').value.trim());
  });
  $('logout').addEventListener('click', logout);
  window.addEventListener('hashchange', () => {
    $('flash').hidden = true;  // a message belongs to the view it was shown in
    render(true);
  });
  setUnauthorizedHandler(() => {
    session.token = '';
    showLogin('The server no longer accepts this token: sign in again.');
  });
  if (session.token) login(session.token);
  else showLogin('');
});
