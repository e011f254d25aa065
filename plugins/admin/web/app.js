import 'uplot/dist/uPlot.min.css';
import './app.css';
import { h, render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { api, initialToken, saveToken } from './api.js';
import { MethodCharts } from './charts.js';
import { bytes, duration, num, percent, serviceName, tags } from './format.js';
import { RulesEditor } from './rules-editor.js';

/** Polls `fn` every `ms` while mounted; returns [value, error]. */
function usePoll(fn, ms, deps) {
  const [value, setValue] = useState(undefined);
  const [error, setError] = useState(undefined);
  useEffect(() => {
    let stopped = false;
    let timer;
    const tick = async () => {
      try {
        const next = await fn();
        if (!stopped) { setValue(next); setError(undefined); }
      } catch (e) {
        if (!stopped) setError(e);
      }
      if (!stopped) timer = setTimeout(tick, ms);
    };
    tick();
    return () => { stopped = true; clearTimeout(timer); };
  }, deps);
  return [value, error];
}

function Login({ onToken, message }) {
  const [value, setValue] = useState('');
  return h('form', { class: 'login', onSubmit: (e) => { e.preventDefault(); onToken(value); } },
    h('p', null, message),
    h('input', { type: 'password', placeholder: 'token', value, onInput: (e) => setValue(e.currentTarget.value), 'data-testid': 'token' }),
    h('button', { type: 'submit' }, 'Open'));
}

function Overview({ state }) {
  const p = state.process || {};
  const loop = p.eventLoop || {};
  const memory = p.memory || {};
  return h('section', { class: 'overview', 'data-testid': 'overview' },
    h('dl', null,
      h('dt', null, 'process'), h('dd', null, `pid ${p.pid} · ${p.node} · ${p.platform}`),
      h('dt', null, 'versions'), h('dd', null, `kernel ${state.versions.kernel} · admin ${state.versions.admin}`),
      h('dt', null, 'uptime'), h('dd', null, duration(p.uptimeSeconds)),
      h('dt', null, 'event loop'), h('dd', { 'data-testid': 'event-loop' }, `utilisation ${percent(loop.utilization)} · lag p50 ${num(loop.lagP50Ms)} ms · p99 ${num(loop.lagP99Ms)} ms · max ${num(loop.lagMaxMs)} ms`),
      h('dt', null, 'memory'), h('dd', null, `rss ${bytes(memory.rss)} · heap ${bytes(memory.heapUsed)} / ${bytes(memory.heapTotal)}`),
      h('dt', null, 'access'), h('dd', null, state.canWrite ? 'read and write' : state.consoleWritable ? 'read only (this token cannot write)' : 'read only')));
}

function Plugins({ plugins }) {
  return h('p', { class: 'plugins' }, 'plugins: ', plugins.length === 0 ? 'none' : plugins.map((p) => h('code', null, p.name)).reduce((all, x) => [...all, ' ', x], []));
}

function stateClass(value) {
  return `state state-${String(value).replace(/[^a-z-]/g, '')}`;
}

function Endpoints({ client }) {
  const rows = client.endpoints;
  if (rows.length === 0) return h('p', { class: 'muted' }, 'no providers discovered');
  const hasShare = rows.some((r) => r.share !== undefined);
  const hasObserved = rows.some((r) => r.observed !== undefined);
  const hasBreaker = rows.some((r) => r.breaker !== undefined);
  const hasAvailability = rows.some((r) => r.availability !== undefined || r.availabilityCalls !== undefined);
  return h('table', { class: 'endpoints' },
    h('thead', null, h('tr', null,
      h('th', null, 'endpoint'), h('th', null, 'version'), h('th', null, 'tags'), h('th', null, 'connection'), h('th', null, 'health'),
      hasAvailability && h('th', null, 'availability'), h('th', null, 'weight'), hasShare && h('th', null, 'lalb share'),
      hasObserved && h('th', null, 'traffic (last 5 s)'),
      h('th', null, 'in flight'), hasBreaker && h('th', null, 'breaker'))),
    h('tbody', null, rows.map((r) => h('tr', { 'data-endpoint': r.id, key: r.id },
      h('td', null, r.id), h('td', null, r.version), h('td', { 'data-field': 'tags' }, tags(r.tags)),
      h('td', null, h('span', { class: stateClass(r.connection) }, r.connection)),
      h('td', { 'data-field': 'health', title: r.healthReason || '' }, h('span', { class: stateClass(r.health) }, r.health)),
      hasAvailability && h('td', null, percent(r.availability)),
      h('td', null, r.lalbWeight !== undefined ? `${r.lalbWeight} (lalb)` : r.weight),
      hasShare && h('td', { 'data-field': 'share', 'data-value': r.share ?? '' }, percent(r.share)),
      hasObserved && h('td', { 'data-field': 'observed', 'data-value': r.observed ? r.observed.share : '' }, r.observed ? `${percent(r.observed.share)} · ${num(r.observed.perSecond)}/s` : '–'),
      h('td', null, num(r.inflight, 0)),
      hasBreaker && h('td', null, r.breaker ? h('span', { class: `state circuit-${String(r.breaker.state).replace(/[^a-z-]/g, '')}` }, r.breaker.state) : '–')))));
}

function RecentTraces({ traces }) {
  if (traces.length === 0) return h('p', { class: 'muted' }, 'no sampled call yet');
  return h('table', { class: 'traces', 'data-testid': 'traces' },
    h('thead', null, h('tr', null, h('th', null, 'ended'), h('th', null, 'method'), h('th', null, 'code'), h('th', null, 'ms'), h('th', null, 'attempts'), h('th', null, 'trace id'))),
    h('tbody', null, traces.slice(0, 15).map((c) => h('tr', { key: c.spanId, 'data-trace': c.traceId },
      h('td', null, new Date(c.endedAt).toLocaleTimeString()), h('td', null, c.method), h('td', null, h('span', { class: c.code === 'OK' ? 'ok' : 'error' }, c.code)),
      h('td', null, num(c.latencyMs, 2)),
      h('td', null, c.attempts.map((a) => `${a.endpoint} ${a.code} ${num(a.latencyMs, 1)} ms${a.transparent ? ' (re-send)' : ''}`).join(' → ')),
      h('td', null, h('code', null, c.traceId))))));
}

function ClientPanel({ token, client, canWrite }) {
  const [series] = usePoll(() => api(token, `/api/series?client=${encodeURIComponent(client.id)}`), 1000, [client.id, token]);
  const methods = series ? Object.entries(series.methods) : [];
  const hasMetrics = client.plugins.some((p) => p.name === '@trellis/metrics');
  const documents = [...new Set(['routes', ...(client.rules || []).map((r) => r.document)])];
  return h('article', { class: 'target', 'data-target': client.id },
    h('h2', null, `consumer of ${serviceName(client.service)}`, h('span', { class: 'muted' }, ` · ${client.id} · registry ${client.registry} · balancer ${client.balancer ?? '–'}`)),
    h(Plugins, { plugins: client.plugins }),
    h('h3', null, 'providers'),
    h(Endpoints, { client }),
    client.methodBreakers.length > 0 && h('p', null, 'method circuits: ', client.methodBreakers.map((b) => h('span', { class: `state circuit-${String(b.state).replace(/[^a-z-]/g, '')}` }, `${b.method} ${b.state} `))),
    client.retryBudget && h('p', null, `retry budget: ${client.retryBudget.spent} spent of ${num(client.retryBudget.allowed)} allowed over ${client.retryBudget.calls} calls in the window`),
    (client.rules || []).length > 0 && h(RulesInForce, { rules: client.rules }),
    h('h3', null, 'calls per method (last 5 minutes)'),
    hasMetrics
      ? (methods.length === 0 ? h('p', { class: 'muted' }, 'no calls yet') : methods.map(([method, points]) => h(MethodCharts, { key: method, method, points })))
      : h('p', { class: 'muted' }, 'install @trellis/metrics on this client for the per-method charts'),
    client.traces && h('div', null, h('h3', null, 'recent traces (sampled calls)'), h(RecentTraces, { traces: client.traces })),
    h('h3', null, 'rules'),
    h(RulesEditor, { token, target: client.id, canWrite, documents }));
}

/** Which version of each rule document (or section of one) is in force, and whether it came from the registry. */
function RulesInForce({ rules }) {
  return h('p', null, 'rules in force: ', rules.map((r) => h('span', { class: 'rule-state' }, `${r.section ?? r.document}: version ${r.version}, from ${r.origin} · `)));
}

/** A server's documents, per service it provides (the limiter's `limits`): each with its editor. */
function ServerRules({ token, server, canWrite }) {
  const byService = new Map();
  for (const r of server.rules || []) if (r.service) byService.set(r.service, [...(byService.get(r.service) || []), r]);
  return [...byService].map(([service, rules]) => h('div', { key: service, 'data-service-rules': service },
    h('h3', null, `rules of ${service}`),
    h(RulesInForce, { rules }),
    h(RulesEditor, { token, target: server.id, service, canWrite, documents: [...new Set(rules.map((r) => r.document))] })));
}

/** A worker group's workers and what they served, from the primary's GET /api/workers. */
function WorkersTable({ token, server }) {
  const [group, error] = usePoll(() => api(token, `/api/workers?server=${encodeURIComponent(server.id)}`), 2000, [token, server.id]);
  if (!group) return h('p', { class: error ? 'error' : 'muted' }, error ? `workers: ${error.message}` : 'asking the workers…');
  const calls = (slot) => {
    const methods = group.detail.find((d) => d.slot === slot)?.methods ?? {};
    return Object.values(methods).reduce((n, m) => n + Object.values(m.calls).reduce((a, b) => a + b, 0), 0);
  };
  return h('div', null,
    h('table', { class: 'workers' },
      h('thead', null, h('tr', null, ['worker', 'pid', 'state', 'uptime', 'restarts', 'connections', 'in flight', 'calls served'].map((c) => h('th', null, c)))),
      h('tbody', null, group.workers.map((w) => h('tr', { 'data-worker': w.slot },
        h('td', null, w.slot), h('td', null, w.pid ?? '–'), h('td', null, w.error ? `${w.state} (${w.error})` : w.state), h('td', null, duration(w.uptimeSeconds)),
        h('td', null, w.restarts), h('td', null, w.connections ?? '–'), h('td', null, w.inflight ?? '–'), h('td', null, calls(w.slot)))))),
    h('p', { class: 'muted' }, `group: ${group.group.ready} of ${group.group.workers} ready · ${group.group.connections ?? '–'} connections · ${group.group.inflight ?? '–'} in flight · ` +
      Object.entries(group.group.methods).map(([name, m]) => `${name} ${Object.entries(m.calls).map(([code, n]) => `${code} ${n}`).join(', ')}`).join(' · ')));
}

function ServerPanel({ token, server, canWrite }) {
  return h('article', { class: 'target', 'data-target': server.id },
    h('h2', null, `provider ${server.address ?? ''}`, h('span', { class: 'muted' }, ` · ${server.id} · ${server.state} · ${server.connections} connections · registry ${server.registry}`)),
    h(Plugins, { plugins: server.plugins }),
    h('h3', null, 'services provided'),
    h('ul', null, (server.services || []).map((s) => h('li', null, h('code', null, `${s.group}/${s.name}@${s.version}`), ' ', s.methods.join(', '),
      s.openStreams > 0 ? h('span', { class: 'muted' }, ` · ${s.openStreams} open stream${s.openStreams === 1 ? '' : 's'}`) : null))),
    server.limiter.length > 0 && h('table', { class: 'limits' },
      h('thead', null, h('tr', null, h('th', null, 'limit scope'), h('th', null, 'qps'), h('th', null, 'concurrency limit'), h('th', null, 'in flight'), h('th', null, 'accepted'), h('th', null, 'rejected'))),
      h('tbody', null, server.limiter.map((g) => h('tr', null, h('td', null, g.scope), h('td', null, num(g.qps)), h('td', null, g.maxConcurrency ?? '–'), h('td', null, g.inflight), h('td', null, g.accepted), h('td', null, g.rejected))))),
    h(ServerRules, { token, server, canWrite }),
    (server.workers || []).length > 0 && h('div', null, h('h3', null, 'workers'), h(WorkersTable, { token, server })));
}

function RegistryView({ state }) {
  return h('main', null,
    h('header', null, h('h1', null, 'Trellis registry'), h('span', { class: 'muted' }, ` ${state.registry} · ${state.services.length} services`)),
    state.services.length === 0 && h('p', { class: 'muted' }, 'no services in this registry'),
    state.services.map((s) => h('article', { class: 'target', 'data-service': `${s.group}/${s.name}`, key: `${s.group}/${s.name}` },
      h('h2', null, s.name, h('span', { class: 'muted' }, ` · group ${s.group} · ${s.providers.length} providers`)),
      (s.documents || []).length > 0 && h('p', null, 'rule documents: ', s.documents.map((d) => h('code', null, d)).reduce((all, x) => [...all, ' ', x], [])),
      s.providers.length > 0 && h('table', { class: 'endpoints' },
        h('thead', null, h('tr', null, h('th', null, 'provider'), h('th', null, 'version'), h('th', null, 'weight'), h('th', null, 'protocol'), h('th', null, 'zone'), h('th', null, 'tags'), h('th', null, 'console'))),
        h('tbody', null, s.providers.map((p) => h('tr', { 'data-provider': `${p.host}:${p.port}` },
          h('td', null, `${p.host}:${p.port}`), h('td', null, p.version ?? '–'), h('td', null, p.weight ?? '–'), h('td', null, p.protocol ?? '–'),
          h('td', null, p.zone ?? '–'), h('td', { 'data-field': 'tags' }, tags(p.tags)),
          // Only http(s) URLs reach here (the server checks); rel=noreferrer keeps this console's address private.
          h('td', null, p.console ? h('a', { href: p.console, rel: 'noreferrer noopener', target: '_blank' }, 'open') : '–'))))),
      (s.malformed || []).length > 0 && h('p', { class: 'error' }, `malformed provider documents (skipped by consumers): ${s.malformed.join(', ')}`))));
}

function App() {
  const [token, setToken] = useState(initialToken());
  const [state, error] = usePoll(() => api(token, '/api/state'), 1000, [token]);
  if (error && error.status === 401) {
    return h(Login, { onToken: (t) => { saveToken(t); setToken(t); }, message: token ? 'That token is not valid here.' : 'This console needs its token.' });
  }
  if (!state) return h('p', { class: error ? 'error' : 'muted' }, error ? `${error.code}: ${error.message}` : 'loading…');
  if (state.mode === 'registry') return h(RegistryView, { state });
  const canWrite = state.canWrite;
  return h('main', null,
    h('header', null, h('h1', null, 'Trellis console'), error && h('span', { class: 'error' }, ` stale: ${error.message}`)),
    h(Overview, { state }),
    state.targets.map((t) => t.side === 'client'
      ? h(ClientPanel, { key: t.id, token, client: t, canWrite })
      : h(ServerPanel, { key: t.id, token, server: t, canWrite })));
}

render(h(App, null), document.getElementById('app'));
