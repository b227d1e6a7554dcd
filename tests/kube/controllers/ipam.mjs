// SPDX-License-Identifier: Apache-2.0
// Pod addresses inside one cluster's loopback block 127.N.0.0/16: the lower half (the API
// server assigns ClusterIPs from the upper half). Addresses are handed out round robin so a
// freed one is reused as late as possible.

export class IpRange {
  // first/last: third-octet bounds (inclusive) inside 127.net.x.y; y runs 1..254.
  constructor(net, first, last) {
    Object.assign(this, { net, first, last });
    this.size = (last - first + 1) * 254;
    this.next = 0;
    this.byOwner = new Map();
    this.used = new Set();
  }

  ipAt(i) {
    return `127.${this.net}.${this.first + Math.floor(i / 254)}.${(i % 254) + 1}`;
  }

  // The address of owner (the same one on every call until released).
  allocate(owner) {
    const have = this.byOwner.get(owner);
    if (have) return have;
    for (let n = 0; n < this.size; n++) {
      const ip = this.ipAt((this.next + n) % this.size);
      if (!this.used.has(ip)) {
        this.next = (this.next + n + 1) % this.size;
        this.used.add(ip);
        this.byOwner.set(owner, ip);
        return ip;
      }
    }
    throw new Error(`no free address in 127.${this.net}.${this.first}-${this.last}.x`);
  }

  release(owner) {
    const ip = this.byOwner.get(owner);
    if (!ip) return;
    this.byOwner.delete(owner);
    this.used.delete(ip);
  }
}

export const podRange = (net) => new IpRange(net, 0, 127);
