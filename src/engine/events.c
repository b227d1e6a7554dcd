/* SPDX-License-Identifier: Apache-2.0 */
/* The event kinds' names (events.h). */
#include "engine/events.h"

static const char *const names[MP_EVENT_COUNT] = {
    [MP_EVENT_EXPERIMENT_STARTED] = "experiment_started",
    [MP_EVENT_EXPERIMENT_RESUMED] = "experiment_resumed",
    [MP_EVENT_TRIAL_STARTED] = "trial_started",
    [MP_EVENT_TRIAL_RETRY] = "trial_retry",
    [MP_EVENT_TRIAL_INTERRUPTED] = "trial_interrupted",
    [MP_EVENT_TRIAL_FINISHED] = "trial_finished",
    [MP_EVENT_NEW_BEST] = "new_best",
    [MP_EVENT_CONFIRM_STARTED] = "confirm_started",
    [MP_EVENT_CONFIRM_RUN] = "confirm_run",
    [MP_EVENT_CONFIRM_FINISHED] = "confirm_finished",
    [MP_EVENT_EXPERIMENT_FINISHED] = "experiment_finished",
};

const char *mp_engine_event_name(enum mp_engine_event kind)
{
    return (unsigned)kind < MP_EVENT_COUNT ? names[kind] : NULL;
}
