// SPDX-License-Identifier: Apache-2.0
// Controller expectations (as client-go's ControllerExpectations): after creating or deleting
// pods, a controller waits until its cache has seen them before it counts pods again, so a slow
// watch never makes it create twice. Expectations older than a few seconds are dropped.

const TTL_MS = 5000;

export class Expectations {
  constructor() { this.map = new Map(); }

  expect(k, adds, dels) {
    this.map.set(k, { adds, dels, at: Date.now() });
  }

  // A pod owned by k was seen created (add) or deleted.
  observed(k, kind) {
    const e = this.map.get(k);
    if (!e) return;
    if (kind === 'add') e.adds--;
    else e.dels--;
  }

  // Also forget one expected add/delete that will never come (the request failed).
  lower(k, kind) { this.observed(k, kind); }

  satisfied(k) {
    const e = this.map.get(k);
    if (!e) return true;
    if ((e.adds <= 0 && e.dels <= 0) || Date.now() - e.at > TTL_MS) {
      this.map.delete(k);
      return true;
    }
    return false;
  }

  forget(k) { this.map.delete(k); }
}
