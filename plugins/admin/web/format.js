// Small formatters; everything they return is rendered as text by Preact (escaped), never as HTML.
export function bytes(n) {
  if (typeof n !== 'number') return '–';
  const units = ['B', 'KiB', 'MiB', 'GiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return `${n.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}

export function duration(seconds) {
  if (typeof seconds !== 'number') return '–';
  const h = Math.floor(seconds / 3600), m = Math.floor((seconds % 3600) / 60), s = seconds % 60;
  return h > 0 ? `${h}h ${m}m` : m > 0 ? `${m}m ${s}s` : `${s}s`;
}

export function percent(x) {
  return typeof x === 'number' ? `${(x * 100).toFixed(1)} %` : '–';
}

export function num(x, digits = 1) {
  return typeof x === 'number' ? (Number.isInteger(x) ? String(x) : x.toFixed(digits)) : '–';
}

export function tags(record) {
  if (!record || typeof record !== 'object') return '';
  return Object.entries(record).map(([k, v]) => `${k}=${v}`).join(' ');
}

export function serviceName(key) {
  if (!key || typeof key !== 'object') return String(key ?? '');
  return `${key.group}/${key.name}${key.version && key.version !== '*' ? `@${key.version}` : ''}`;
}
