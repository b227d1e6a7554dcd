// SPDX-License-Identifier: Apache-2.0
// ClusterIP and NodePort allocation for Services, as kube-apiserver does at create time: IPs
// from the service range (127.x by default, so the node agent's proxies can bind them), the
// first one reserved for the `kubernetes` Service; node ports from 30000-32767.
import { ApiError, cause, invalid } from './errors.mjs';

function ipToInt(ip) {
    return ip.split('.').reduce((n, p) => n * 256 + Number(p), 0);
}

function intToIp(n) {
    return [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.');
}

export class ServiceAllocator {
    constructor(store, cidr) {
        const [base, bits] = cidr.split('/');
        this.store = store;
        this.size = 2 ** (32 - Number(bits));
        this.base = ipToInt(base) - (ipToInt(base) % this.size);
        this.next = 10;
        this.cidr = cidr;
    }

    first() {
        return intToIp(this.base + 1);
    }

    inRange(ip) {
        const n = ipToInt(ip);
        return n > this.base && n < this.base + this.size - 1;
    }

    used() {
        const ips = new Set();
        const ports = new Set();
        for (const s of this.store.list('/services')) {
            if (s.spec?.clusterIP) ips.add(s.spec.clusterIP);
            for (const p of s.spec?.ports || []) if (p.nodePort) ports.add(p.nodePort);
        }
        return { ips, ports };
    }

    // Fills spec.clusterIP(s), ipFamilies and node ports of a Service being created.
    allocate(svc) {
        const s = svc.spec;
        if (!s || s.type === 'ExternalName') return;
        const { ips, ports } = this.used();
        const rdef = { kind: 'Service', group: '' };
        if (s.clusterIP === 'None') {
            s.clusterIPs = ['None'];
        } else if (s.clusterIP) {
            if (!/^\d+\.\d+\.\d+\.\d+$/.test(s.clusterIP) || !this.inRange(s.clusterIP)) {
                throw invalid(rdef, svc.metadata.name, [cause('spec.clusterIPs', 'invalid',
                    `failed to allocate IP ${s.clusterIP}: the provided IP (${s.clusterIP}) is not in the valid range. The range of valid IPs is ${this.cidr}`, [s.clusterIP])]);
            }
            if (ips.has(s.clusterIP)) {
                throw invalid(rdef, svc.metadata.name, [cause('spec.clusterIPs', 'invalid',
                    `failed to allocate IP ${s.clusterIP}: provided IP is already allocated`, [s.clusterIP])]);
            }
            s.clusterIPs = [s.clusterIP];
        } else {
            let ip;
            for (let i = 0; i < this.size - 3; i++) {
                const off = 2 + ((this.next - 2 + i) % (this.size - 3));
                const cand = intToIp(this.base + off);
                if (!ips.has(cand)) {
                    ip = cand;
                    this.next = off + 1;
                    break;
                }
            }
            if (!ip) throw new ApiError(500, 'InternalError', 'Internal error occurred: failed to allocate a serviceIP: range is full');
            s.clusterIP = ip;
            s.clusterIPs = [ip];
        }
        s.ipFamilies ??= ['IPv4'];
        s.ipFamilyPolicy ??= 'SingleStack';
        if (s.type === 'NodePort' || s.type === 'LoadBalancer') {
            let n = 30000;
            for (const p of s.ports || []) {
                if (p.nodePort) continue;
                while (ports.has(n)) n++;
                p.nodePort = n;
                ports.add(n);
            }
        }
    }
}
