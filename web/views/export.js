// SPDX-License-Identifier: Apache-2.0
// The deployable result (GET /api/v1/experiments/{ref}/export): for a host (program, args,
// env, resources) or as a Kubernetes patch for a named container, shown and downloadable, with
// the server's caveats about it.
import { apiResponse } from '../api.js';
import { h, openDialog } from '../dom.js';
import { escapeBidi, fmtMetric, fmtMoney, fmtNum } from '../format.js';

// A capacity plan as `morphling show --target-rps` says it: replicas of the configuration that
// serve the target load with the headroom, and what they cost.
function planText(p) {
  const cost = Number.isFinite(p.cost_per_hour) ? `, costing ${fmtMoney(p.cost_per_hour)}/h` : '';
  return (
    `${fmtMetric('throughput_rps', p.target_rps)} with ${fmtNum(100 * p.headroom)} % headroom ` +
    `needs ${fmtNum(p.replicas)} replica${p.replicas === 1 ? '' : 's'} of ` +
    `${fmtMetric('throughput_rps', p.replica_rps)}${cost}.`
  );
}

export function exportDialog(exp) {
  // The download link's file: one at a time, freed when replaced and when the dialog closes.
  let url = null;
  const release = () => {
    if (url) URL.revokeObjectURL(url);
    url = null;
  };
  const download = (name, text) => {
    release();
    url = URL.createObjectURL(new Blob([text], { type: 'application/json' }));
    return h(
      'a',
      { class: 'btn primary', href: url, download: name, id: 'export-download' },
      `Download ${name}`,
    );
  };
  const out = h('div', { id: 'export-out' });
  const container = h('input', {
    type: 'text',
    id: 'export-container',
    'aria-label': 'Container name',
    placeholder: 'container name',
    size: 18,
  });
  // The target load of a capacity plan (target_rps), empty for none: the format shown last is
  // asked for again with it.
  const target = h('input', {
    type: 'text',
    inputmode: 'decimal',
    id: 'export-target',
    'aria-label': 'Target load in requests per second',
    placeholder: 'req/s',
    size: 10,
  });
  let shown = 'deploy';
  const show = async (format) => {
    shown = format;
    const args = new URLSearchParams();
    if (format === 'k8s') {
      args.set('format', 'k8s');
      args.set('container', container.value.trim());
    }
    if (target.value.trim()) args.set('target_rps', target.value.trim());
    const q = args.toString() ? `?${args}` : '';
    try {
      const { body: r, warnings } = await apiResponse(`/experiments/${exp.id}/export${q}`);
      const text = `${escapeBidi(JSON.stringify(r, null, 2))}\n`;
      const name = `${exp.name}-${format === 'k8s' ? 'k8s-patch' : 'deploy'}.json`;
      const hint =
        format === 'k8s'
          ? 'Apply with: kubectl patch deployment NAME --patch-file FILE'
          : 'The recommended configuration: program, arguments, environment and resources.';
      // What the configuration is not (the best so far of an unfinished experiment, an
      // unsettled or unconfirmed figure), as `morphling export` notes it: it was left out.
      out.replaceChildren(
        ...warnings.map((w) =>
          h('p', { class: 'msg warn export-warning' }, h('strong', {}, 'Note: '), w),
        ),
        r && r.capacity_plan
          ? h('p', { class: 'msg note', id: 'capacity-plan' }, planText(r.capacity_plan))
          : null,
        h('p', { class: 'muted' }, hint),
        h('pre', { class: 'log' }, text),
        download(name, text),
      );
    } catch (e) {
      out.replaceChildren(h('p', { class: 'msg error' }, e.message));
    }
  };
  const k8s = h(
    'form',
    {
      class: 'toolbar',
      onsubmit: (e) => {
        e.preventDefault();
        show('k8s');
      },
    },
    h('button', { class: 'btn', type: 'button', onclick: () => show('deploy') }, 'For a host'),
    h('label', {}, 'Kubernetes container ', container),
    h('button', { class: 'btn' }, 'As a Kubernetes patch'),
  );
  const plan = h(
    'form',
    {
      class: 'toolbar',
      onsubmit: (e) => {
        e.preventDefault();
        show(shown);
      },
    },
    h('label', {}, 'Capacity for a target load of ', target, ' req/s'),
    h('button', { class: 'btn' }, 'Plan capacity'),
  );
  openDialog(`Export ${exp.name}`, h('div', {}, k8s, plan, out), release);
  show('deploy');
}
