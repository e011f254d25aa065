import { diffLines } from 'diff';
import { h } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { api } from './api.js';

/**
 * The rule documents of one service of a target — a client's (`routes`, `breaker`) or a server's
 * (`limits`): the text in force (from the registry), an editor that validates as you type (the server
 * runs @trellis/rules' validation with the plugins' own schemas, the same the consumers and providers
 * run), the diff against the text in force, and Save (only with a write token; the server validates
 * again and refuses a document that changed meanwhile).
 */
export function RulesEditor({ token, target, service, canWrite, documents }) {
  const [document, setDocument] = useState(documents[0] || 'routes');
  const where = { target, service, document };
  const [loaded, setLoaded] = useState(undefined);
  const [text, setText] = useState('');
  const [check, setCheck] = useState(undefined);
  const [status, setStatus] = useState('');
  const timer = useRef(undefined);

  const load = async () => {
    setStatus('');
    try {
      const query = Object.entries(service ? where : { target, document }).map(([key, value]) => `${key}=${encodeURIComponent(value)}`).join('&');
      const view = await api(token, `/api/rules?${query}`);
      setLoaded(view);
      setText(view.text ?? '');
      setCheck(undefined);
    } catch (error) {
      setStatus(`${error.code}: ${error.message}`);
    }
  };
  useEffect(() => { load(); }, [target, service, document]);

  const validate = (value) => {
    clearTimeout(timer.current);
    timer.current = setTimeout(async () => {
      if (value.trim() === '') return setCheck(undefined);
      try {
        setCheck(await api(token, '/api/rules/validate', { method: 'POST', body: { ...where, text: value } }));
      } catch (error) {
        setCheck({ ok: false, issues: [{ field: '', message: `${error.code}: ${error.message}` }] });
      }
    }, 200);
  };
  const onInput = (event) => {
    setText(event.currentTarget.value);
    setStatus('');
    validate(event.currentTarget.value);
  };
  const save = async () => {
    setStatus('saving…');
    try {
      const result = await api(token, '/api/rules', { method: 'PUT', body: { ...where, text, expected: loaded ? loaded.text : undefined } });
      setStatus(`saved: version ${result.version}`);
      setLoaded({ ...loaded, text });
    } catch (error) {
      const issues = error.details && error.details.issues;
      if (issues) setCheck({ ok: false, issues });
      setStatus(`not saved: ${error.code}: ${error.message}`);
    }
  };

  if (loaded === undefined) return h('div', { class: 'rules' }, h('p', { class: 'muted' }, status || 'loading rules…'));
  const before = loaded.text ?? '';
  const changed = text !== before;
  const parts = changed ? diffLines(before, text) : [];
  const valid = check === undefined ? text.trim() === '' : check.ok;
  return h('div', { class: 'rules', 'data-rules': service ? `${target} ${service}` : target },
    h('div', { class: 'row' },
      h('label', null, 'document ',
        h('select', { value: document, onChange: (e) => setDocument(e.currentTarget.value), 'data-testid': 'rules-document' },
          documents.map((name) => h('option', { value: name }, name)))),
      h('span', { class: 'muted' }, loaded.live ? (loaded.text === null ? ' no document in the registry yet' : ' in force in the registry') : ' this registry holds no documents')),
    h('textarea', { value: text, onInput, spellcheck: false, rows: 12, 'data-testid': 'rules-text' }),
    h('div', { class: 'validation', 'data-testid': 'rules-validation' },
      check === undefined ? h('span', { class: 'muted' }, changed ? 'checking…' : '')
        : check.ok ? h('span', { class: 'ok' }, `valid (version ${check.version})`)
          : h('ul', { class: 'issues' }, check.issues.map((issue) => h('li', null,
            issue.rule !== undefined ? `rule "${issue.rule}" ` : issue.index !== undefined ? `rule ${issue.section}[${issue.index}] ` : 'document ',
            issue.field ? `field "${issue.field}": ` : ': ', issue.message)))),
    changed && h('pre', { class: 'diff', 'data-testid': 'rules-diff' }, parts.map((part) =>
      h('span', { class: part.added ? 'added' : part.removed ? 'removed' : 'same' },
        part.value.split('\n').filter((line, i, all) => i < all.length - 1 || line !== '').map((line) => `${part.added ? '+ ' : part.removed ? '- ' : '  '}${line}\n`)))),
    h('div', { class: 'row' },
      canWrite
        ? h('button', { onClick: save, disabled: !changed || !valid, 'data-testid': 'rules-save' }, 'Save to the registry')
        : h('span', { class: 'muted' }, 'read-only: open the console with the write token to save'),
      h('button', { onClick: load, class: 'secondary' }, 'Reload'),
      h('span', { class: 'status', 'data-testid': 'rules-status' }, status)));
}
