/* SPDX-License-Identifier: Apache-2.0 */
/* The kinds of event the engine stores (mp_store_event_add) and the server streams: one table,
 * so the engine's names, the API's list (GET /api/v1/info) and the dashboard cannot drift.
 * Contract: docs/internals/store.md ("events") and docs/api.md ("Events").
 *
 * Ownership: every returned string is static. Thread-safety: read-only data. */
#ifndef MP_ENGINE_EVENTS_H
#define MP_ENGINE_EVENTS_H

#include <stddef.h>

enum mp_engine_event {
    MP_EVENT_EXPERIMENT_STARTED,
    MP_EVENT_EXPERIMENT_RESUMED,
    MP_EVENT_TRIAL_STARTED,
    MP_EVENT_TRIAL_RETRY,
    MP_EVENT_TRIAL_INTERRUPTED,
    MP_EVENT_TRIAL_FINISHED,
    MP_EVENT_NEW_BEST,
    MP_EVENT_CONFIRM_STARTED,
    MP_EVENT_CONFIRM_RUN,
    MP_EVENT_CONFIRM_FINISHED,
    MP_EVENT_EXPERIMENT_FINISHED,
    MP_EVENT_COUNT
};

/* The stored name of kind ("trial_finished"); NULL for a value outside the enum. */
const char *mp_engine_event_name(enum mp_engine_event kind);

#endif
