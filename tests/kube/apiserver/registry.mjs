// SPDX-License-Identifier: Apache-2.0
// The resources the fake API server serves: the built-in ones (group, version, kind, plural,
// scope, short names, subresources, the OpenAPI model that validates them) and the ones that
// CustomResourceDefinitions add at run time; plus the discovery documents kubectl reads.

const ALL_VERBS = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];
const READ_VERBS = ['get', 'list', 'watch'];

// A resource definition. `storage` names the table its objects live in (two definitions may
// share one, as core/v1 and events.k8s.io/v1 Events do), `model` the client-node type map and
// `schema` the kubernetes-models validator of the kind.
function builtin(group, version, kind, plural, opts = {}) {
    const gv = group ? `${group}/${version}` : version;
    const modelGroup = opts.modelPrefix || 'V1';
    return {
        group,
        version,
        apiVersion: gv,
        kind,
        plural,
        singular: opts.singular || kind.toLowerCase(),
        namespaced: !opts.cluster,
        shortNames: opts.short || [],
        categories: opts.categories || [],
        verbs: opts.verbs || ALL_VERBS,
        subresources: opts.sub || {},
        storage: opts.storage || `${group}/${plural}`,
        model: opts.model === undefined ? `${modelGroup}${kind}` : opts.model,
        schema: opts.schema === undefined ? null : opts.schema,
        generation: !!opts.generation,
        virtual: !!opts.virtual,
        builtin: true,
    };
}

const S = (name) => ({ schema: name });
const all = ['all'];

export const BUILTINS = [
    builtin('', 'v1', 'Namespace', 'namespaces', {
        cluster: true, short: ['ns'], sub: { status: true, finalize: true },
        ...S('IoK8sApiCoreV1Namespace'),
    }),
    builtin('', 'v1', 'Pod', 'pods', {
        short: ['po'], categories: all,
        sub: { status: true, log: true, binding: true, eviction: true },
        ...S('IoK8sApiCoreV1Pod'),
    }),
    builtin('', 'v1', 'Binding', 'bindings', { verbs: ['create'], virtual: true,
        ...S('IoK8sApiCoreV1Binding') }),
    // Stored only: no disruption controller computes their status (pods/eviction reads it).
    builtin('policy', 'v1', 'PodDisruptionBudget', 'poddisruptionbudgets', {
        short: ['pdb'], sub: { status: true }, generation: true,
        ...S('IoK8sApiPolicyV1PodDisruptionBudget'),
    }),
    builtin('', 'v1', 'Service', 'services', {
        short: ['svc'], categories: all, sub: { status: true }, ...S('IoK8sApiCoreV1Service'),
    }),
    builtin('', 'v1', 'Endpoints', 'endpoints', {
        short: ['ep'], singular: 'endpoints', ...S('IoK8sApiCoreV1Endpoints'),
    }),
    builtin('', 'v1', 'Event', 'events', {
        short: ['ev'], model: 'CoreV1Event', storage: '/events', ...S('IoK8sApiCoreV1Event'),
    }),
    builtin('', 'v1', 'ConfigMap', 'configmaps', { short: ['cm'], ...S('IoK8sApiCoreV1ConfigMap') }),
    builtin('', 'v1', 'Secret', 'secrets', S('IoK8sApiCoreV1Secret')),
    builtin('', 'v1', 'ServiceAccount', 'serviceaccounts', {
        short: ['sa'], sub: { token: true }, ...S('IoK8sApiCoreV1ServiceAccount'),
    }),
    builtin('', 'v1', 'Node', 'nodes', {
        cluster: true, short: ['no'], sub: { status: true }, ...S('IoK8sApiCoreV1Node'),
    }),
    builtin('', 'v1', 'PodTemplate', 'podtemplates', S('IoK8sApiCoreV1PodTemplate')),
    builtin('apps', 'v1', 'Deployment', 'deployments', {
        short: ['deploy'], categories: all, sub: { status: true, scale: true }, generation: true,
        ...S('IoK8sApiAppsV1Deployment'),
    }),
    builtin('apps', 'v1', 'ReplicaSet', 'replicasets', {
        short: ['rs'], categories: all, sub: { status: true, scale: true }, generation: true,
        ...S('IoK8sApiAppsV1ReplicaSet'),
    }),
    builtin('batch', 'v1', 'Job', 'jobs', {
        categories: all, sub: { status: true }, generation: true, ...S('IoK8sApiBatchV1Job'),
    }),
    builtin('coordination.k8s.io', 'v1', 'Lease', 'leases', S('IoK8sApiCoordinationV1Lease')),
    builtin('events.k8s.io', 'v1', 'Event', 'events', {
        short: ['ev'], model: 'EventsV1Event', storage: '/events', ...S('IoK8sApiEventsV1Event'),
    }),
    builtin('discovery.k8s.io', 'v1', 'EndpointSlice', 'endpointslices',
        S('IoK8sApiDiscoveryV1EndpointSlice')),
    builtin('apiextensions.k8s.io', 'v1', 'CustomResourceDefinition',
        'customresourcedefinitions', {
            cluster: true, short: ['crd', 'crds'], categories: ['api-extensions'],
            sub: { status: true }, generation: true,
            ...S('IoK8sApiextensionsApiserverPkgApisApiextensionsV1CustomResourceDefinition'),
        }),
    builtin('rbac.authorization.k8s.io', 'v1', 'Role', 'roles', S('IoK8sApiRbacV1Role')),
    builtin('rbac.authorization.k8s.io', 'v1', 'RoleBinding', 'rolebindings',
        S('IoK8sApiRbacV1RoleBinding')),
    builtin('rbac.authorization.k8s.io', 'v1', 'ClusterRole', 'clusterroles',
        { cluster: true, ...S('IoK8sApiRbacV1ClusterRole') }),
    builtin('rbac.authorization.k8s.io', 'v1', 'ClusterRoleBinding', 'clusterrolebindings',
        { cluster: true, ...S('IoK8sApiRbacV1ClusterRoleBinding') }),
    builtin('authorization.k8s.io', 'v1', 'SelfSubjectAccessReview', 'selfsubjectaccessreviews',
        { cluster: true, verbs: ['create'], virtual: true,
            ...S('IoK8sApiAuthorizationV1SelfSubjectAccessReview') }),
    builtin('authorization.k8s.io', 'v1', 'SelfSubjectRulesReview', 'selfsubjectrulesreviews',
        { cluster: true, verbs: ['create'], virtual: true,
            ...S('IoK8sApiAuthorizationV1SelfSubjectRulesReview') }),
    builtin('authentication.k8s.io', 'v1', 'SelfSubjectReview', 'selfsubjectreviews',
        { cluster: true, verbs: ['create'], virtual: true,
            ...S('IoK8sApiAuthenticationV1SelfSubjectReview') }),
];

const METRICS = [
    builtin('metrics.k8s.io', 'v1beta1', 'PodMetrics', 'pods', {
        verbs: READ_VERBS.slice(0, 2), virtual: true, model: null, singular: '',
    }),
    builtin('metrics.k8s.io', 'v1beta1', 'NodeMetrics', 'nodes', {
        cluster: true, verbs: READ_VERBS.slice(0, 2), virtual: true, model: null, singular: '',
    }),
];

// Group preference order as kube-apiserver lists them.
const GROUP_ORDER = ['', 'apps', 'events.k8s.io', 'authentication.k8s.io',
    'authorization.k8s.io', 'batch', 'coordination.k8s.io', 'discovery.k8s.io',
    'rbac.authorization.k8s.io', 'apiextensions.k8s.io', 'metrics.k8s.io'];

export class Registry {
    constructor({ metrics = true } = {}) {
        this.byPath = new Map(); // "group/version/plural" -> rdef
        this.crdDefs = new Map(); // CRD name -> [rdef]
        for (const r of BUILTINS) this.add(r);
        if (metrics) for (const r of METRICS) this.add(r);
    }

    add(rdef) {
        this.generation = (this.generation || 0) + 1;
        this.byPath.set(`${rdef.group}/${rdef.version}/${rdef.plural}`, rdef);
    }

    lookup(group, version, plural) {
        return this.byPath.get(`${group}/${version}/${plural}`);
    }

    // The definition of a kind in one group/version (for ownerReferences and SSA).
    byKind(apiVersion, kind) {
        for (const r of this.byPath.values()) {
            if (r.apiVersion === apiVersion && r.kind === kind) return r;
        }
        return undefined;
    }

    // All definitions whose objects live in one storage table.
    byStorage(storage) {
        return [...this.byPath.values()].filter((r) => r.storage === storage);
    }

    setCRD(name, rdefs) {
        this.removeCRD(name);
        this.crdDefs.set(name, rdefs);
        for (const r of rdefs) this.add(r);
    }

    removeCRD(name) {
        this.generation = (this.generation || 0) + 1;
        for (const r of this.crdDefs.get(name) || []) {
            this.byPath.delete(`${r.group}/${r.version}/${r.plural}`);
        }
        this.crdDefs.delete(name);
    }

    groups() {
        const groups = new Map();
        for (const r of this.byPath.values()) {
            if (!groups.has(r.group)) groups.set(r.group, new Map());
            const versions = groups.get(r.group);
            if (!versions.has(r.version)) versions.set(r.version, []);
            versions.get(r.version).push(r);
        }
        const order = (g) => {
            const i = GROUP_ORDER.indexOf(g);
            return i < 0 ? GROUP_ORDER.length : i;
        };
        return [...groups.entries()].sort((a, b) => order(a[0]) - order(b[0]) ||
            a[0].localeCompare(b[0]));
    }

    apiVersions() {
        return { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [
            { clientCIDR: '0.0.0.0/0', serverAddress: this.serverAddress || '127.0.0.1:443' }] };
    }

    apiGroupList() {
        const groups = [];
        for (const [group, versions] of this.groups()) {
            if (!group) continue;
            groups.push(this.apiGroup(group, versions));
        }
        return { kind: 'APIGroupList', apiVersion: 'v1', groups };
    }

    apiGroup(group, versions) {
        const list = [...versions.keys()].sort(compareVersions).map((v) => ({
            groupVersion: `${group}/${v}`, version: v }));
        return { kind: 'APIGroup', apiVersion: 'v1', name: group, versions: list,
            preferredVersion: list[0] };
    }

    groupInfo(group) {
        for (const [g, versions] of this.groups()) if (g === group) return this.apiGroup(g, versions);
        return undefined;
    }

    resourceList(group, version) {
        const rdefs = [...this.byPath.values()].filter((r) => r.group === group &&
            r.version === version);
        if (rdefs.length === 0) return undefined;
        const resources = [];
        for (const r of rdefs.sort((a, b) => a.plural.localeCompare(b.plural))) {
            const entry = { name: r.plural, singularName: r.singular, namespaced: r.namespaced,
                kind: r.kind, verbs: r.verbs };
            if (r.shortNames.length) entry.shortNames = r.shortNames;
            if (r.categories.length) entry.categories = r.categories;
            resources.push(entry);
            for (const sub of Object.keys(r.subresources)) {
                resources.push(subresourceEntry(r, sub));
            }
        }
        return { kind: 'APIResourceList', apiVersion: 'v1',
            groupVersion: group ? `${group}/${version}` : version, resources };
    }
}

function subresourceEntry(r, sub) {
    const e = { name: `${r.plural}/${sub}`, singularName: '', namespaced: r.namespaced,
        kind: r.kind, verbs: ['get', 'patch', 'update'] };
    if (sub === 'scale') {
        Object.assign(e, { group: 'autoscaling', version: 'v1', kind: 'Scale' });
    } else if (sub === 'log') {
        Object.assign(e, { kind: 'Pod', verbs: ['get'] });
    } else if (sub === 'binding') {
        Object.assign(e, { kind: 'Binding', verbs: ['create'] });
    } else if (sub === 'eviction') {
        Object.assign(e, { group: 'policy', version: 'v1', kind: 'Eviction', verbs: ['create'] });
    } else if (sub === 'token') {
        Object.assign(e, { group: 'authentication.k8s.io', version: 'v1', kind: 'TokenRequest',
            verbs: ['create'] });
    } else if (sub === 'finalize') {
        e.verbs = ['update'];
    }
    return e;
}

// Kubernetes version priority: GA > beta > alpha, higher numbers first (v2 > v1 > v1beta2).
export function compareVersions(a, b) {
    const parse = (v) => {
        const m = /^v(\d+)(?:(alpha|beta)(\d+))?$/.exec(v);
        if (!m) return [3, 0, 0, v];
        const level = m[2] === 'alpha' ? 1 : m[2] === 'beta' ? 2 : 0;
        return [level === 0 ? 0 : 3 - level, -Number(m[1]), -Number(m[3] || 0), v];
    };
    const pa = parse(a);
    const pb = parse(b);
    for (let i = 0; i < 3; i++) if (pa[i] !== pb[i]) return pa[i] - pb[i];
    return pa[3].localeCompare(pb[3]);
}
