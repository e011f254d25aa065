import { h } from 'preact';
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';

const COLORS = ['#2f6fde', '#d9480f', '#2b8a3e', '#ae3ec9', '#e67700', '#0b7285', '#c92a2a'];

/**
 * One uPlot chart. `series` names the lines; the chart is rebuilt when they change (a new error code
 * appears) and otherwise only gets new data, once a second.
 */
export function Chart({ title, unit, series, data, testid }) {
  const box = useRef(null);
  const plot = useRef(null);
  const key = series.join('\u0000');
  useEffect(() => {
    const options = {
      title,
      width: 420,
      height: 180,
      series: [{}, ...series.map((label, i) => ({ label, stroke: COLORS[i % COLORS.length], width: 1.5, spanGaps: false }))],
      axes: [{}, { label: unit, size: 50 }],
      scales: { x: { time: true } },
      legend: { live: false },
    };
    plot.current = new uPlot(options, data, box.current);
    return () => {
      plot.current.destroy();
      plot.current = null;
    };
  }, [key]);
  useEffect(() => {
    if (plot.current) plot.current.setData(data);
  }, [data]);
  return h('div', { class: 'chart', ref: box, 'data-chart': testid });
}

/** The charts of one method from its points: calls and errors per second, and p50 / p99 latency. */
export function MethodCharts({ method, points }) {
  const t = points.map((p) => p.t);
  const codes = [...new Set(points.flatMap((p) => Object.keys(p.errors)))].sort();
  const rate = [t, points.map((p) => p.qps), ...codes.map((code) => points.map((p) => p.errors[code] ?? 0))];
  const latency = [t, points.map((p) => p.p50), points.map((p) => p.p99)];
  const last = points[points.length - 1];
  return h('section', { class: 'method', 'data-method': method },
    h('h4', null, method, ' ', h('span', { class: 'muted' }, last ? `${last.qps} calls/s · p50 ${last.p50 ?? '–'} ms · p99 ${last.p99 ?? '–'} ms` : 'no calls yet')),
    h('div', { class: 'charts' },
      h(Chart, { title: 'calls / s (errors by code)', unit: '/s', series: ['calls', ...codes], data: rate, testid: `${method}-rate` }),
      h(Chart, { title: 'latency', unit: 'ms', series: ['p50', 'p99'], data: latency, testid: `${method}-latency` })));
}
