// SPDX-License-Identifier: Apache-2.0
// The state of the page being shown: its <main>, what to undo when the user leaves it (event
// streams, timers), and a generation number so that a view whose data arrives after the user
// moved on draws nothing.
export const main = document.getElementById('main');

let leaving = [];
let generation = 0;

// Starts a new page: runs the previous page's clean-ups; returns the new generation.
export function enter() {
  leaving.forEach((f) => f());
  leaving = [];
  generation++;
  return generation;
}

export function stale(gen) {
  return gen !== generation;
}

// f runs when the user leaves the current page.
export function onLeave(f) {
  leaving.push(f);
}
