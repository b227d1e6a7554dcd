// SPDX-License-Identifier: Apache-2.0
// Controller expectations (as client-go's UIDTrackingControllerExpectations): after creating or
// deleting pods, a controller waits until its cache has seen them before it counts pods again,
// so a slow watch never makes it create or delete twice. Deletions are tracked by pod key (a
// pod is seen deleted twice: when it gets its deletionTimestamp and when it goes). Expectations
// older than a few seconds are dropped.

import { controllerOf, key } from './labels.mjs';

const TTL_MS = 5000;

export class Expectations {
  constructor() { this.map = new Map(); }

  // adds: how many pods were created; dels: keys of the pods deleted.
  expect(k, adds, dels = []) {
    this.map.set(k, { adds, dels: new Set(dels), at: Date.now() });
  }

  // A pod owned by k was seen created, or an expected one will never be (the request failed).
  added(k) {
    const e = this.map.get(k);
    if (e) e.adds--;
  }

  // The pod podKey owned by k was seen being deleted, or its delete request failed.
  deleted(k, podKey) {
    this.map.get(k)?.dels.delete(podKey);
  }

  satisfied(k) {
    const e = this.map.get(k);
    if (!e) return true;
    if ((e.adds <= 0 && e.dels.size === 0) || Date.now() - e.at > TTL_MS) {
      this.map.delete(k);
      return true;
    }
    return false;
  }

  forget(k) { this.map.delete(k); }
}

// Feeds the pod events of the controllers of one kind into the expectations and their queue.
export function trackOwnedPods(pods, kind, expectations, queue) {
  pods.on((type, pod) => {
    const ref = controllerOf(pod);
    if (ref?.kind !== kind) return;
    const k = `${pod.metadata.namespace}/${ref.name}`;
    if (type === 'ADDED') expectations.added(k);
    if (type === 'DELETED' || pod.metadata.deletionTimestamp) expectations.deleted(k, key(pod));
    queue.add(k);
  });
}
