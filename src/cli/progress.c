/* SPDX-License-Identifier: Apache-2.0 */
/* Progress of long work on stderr: on a terminal one line redrawn in place (a bar, the count,
 * the time left), otherwise one plain line per step, so a log or a pipe reads well too. */
#include "cli/cli.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BAR 20
/* Without a terminal a line every 10 % or 5 s; on one a redraw at most every 100 ms. The last
 * step always shows. */
#define LINE_NS   (INT64_C(5000000000))
#define REDRAW_NS (INT64_C(100000000))

void mp_cli_progress_start(struct mp_cli_progress *p, const char *what, size_t total, bool quiet)
{
    memset(p, 0, sizeof(*p));
    p->what = what;
    p->total = total;
    p->t0_ns = mp_mono_ns();
    p->quiet = quiet;
    p->tty = isatty(STDERR_FILENO) == 1;
}

void mp_cli_progress_next(struct mp_cli_progress *p, const char *what, size_t total)
{
    /* Without a step (a resumed run whose trials had all finished), from this bar's start. */
    int64_t from = p->step_ns ? p->step_ns : p->t0_ns;
    mp_cli_progress_end(p);
    mp_cli_progress_start(p, what, total, p->quiet);
    p->t0_ns = from;
}

/* "about 1m20s left", from the mean time per step this bar made so far. */
static void time_left(const struct mp_cli_progress *p, char *buf, size_t len)
{
    buf[0] = '\0';
    if (p->done <= p->base || p->done >= p->total) {
        return;
    }
    double per = (double)(mp_mono_ns() - p->t0_ns) / 1e9 / (double)(p->done - p->base);
    long s = (long)(per * (double)(p->total - p->done) + 0.5);
    if (s >= 60) {
        snprintf(buf, len, ", about %ldm%02lds left", s / 60, s % 60);
    } else {
        snprintf(buf, len, ", about %lds left", s);
    }
}

void mp_cli_progress_step(struct mp_cli_progress *p, size_t done, const char *fmt, ...)
{
    int64_t now = mp_mono_ns();
    bool tenth = p->total && 10 * done / p->total != 10 * p->done / p->total;
    if (!p->step_ns) {
        p->base = done ? done - 1 : 0; /* the others were done before this bar started */
    }
    p->done = done;
    p->step_ns = now;
    bool due = done >= p->total || !p->last_ns ||
               (p->tty ? now - p->last_ns >= REDRAW_NS : tenth || now - p->last_ns >= LINE_NS);
    if (p->quiet || !due) {
        return;
    }
    p->last_ns = now;
    char note[256] = "";
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(note, sizeof(note), fmt, ap);
        va_end(ap);
    }
    char left[64];
    time_left(p, left, sizeof(left));
    unsigned pct = p->total ? (unsigned)(100 * p->done / p->total) : 100;
    if (!p->tty) {
        fprintf(stderr, "%s: %zu/%zu (%u %%)%s%s%s\n", p->what, p->done, p->total, pct, left,
                note[0] ? ": " : "", note);
        return;
    }
    char bar[BAR + 1];
    size_t full = p->total ? BAR * p->done / p->total : BAR;
    for (size_t i = 0; i < BAR; i++) {
        bar[i] = i < full ? '#' : '.';
    }
    bar[BAR] = '\0';
    /* \r and erase-to-end-of-line: the line is redrawn in place; a note is cut to fit. */
    fprintf(stderr, "\r\033[K%s [%s] %zu/%zu%s%s%.60s", p->what, bar, p->done, p->total, left,
            note[0] ? "  " : "", note);
    p->drawn = true;
}

void mp_cli_progress_end(struct mp_cli_progress *p)
{
    if (p->drawn) {
        fputc('\n', stderr);
        p->drawn = false;
    }
}

void mp_cli_progress_status(struct mp_cli_progress *p, const char *fmt, ...)
{
    int64_t now = mp_mono_ns();
    if (p->quiet || (p->last_ns && now - p->last_ns < (p->tty ? REDRAW_NS : LINE_NS))) {
        return;
    }
    p->last_ns = now;
    char note[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(note, sizeof(note), fmt, ap);
    va_end(ap);
    if (p->tty) {
        fprintf(stderr, "\r\033[K%s: %s", p->what, note);
        p->drawn = true;
    } else {
        fprintf(stderr, "%s: %s\n", p->what, note);
    }
}
