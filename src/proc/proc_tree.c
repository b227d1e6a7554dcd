/* SPDX-License-Identifier: Apache-2.0 */
/* The process tree below a shim, read from /proc: counting, listing and killing everything a
 * service left behind (forks, daemons, setsid escapes). */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proc/proc_int.h"

struct pinfo {
    pid_t pid, ppid;
    char state;
};

static bool read_stat(pid_t pid, struct pinfo *pi)
{
    char path[64], buf[512];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return false;
    }
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0) {
        return false;
    }
    buf[n] = '\0';
    const char *rp = strrchr(buf, ')');
    int ppid = 0;
    char st = 0;
    if (!rp || sscanf(rp + 1, " %c %d", &st, &ppid) != 2) {
        return false;
    }
    pi->pid = pid;
    pi->ppid = ppid;
    pi->state = st;
    return true;
}

/* Live processes below root. Returns an owned array. */
static struct pinfo *scan_tree(pid_t root, size_t *n_out)
{
    size_t n = 0, cap = 0;
    struct pinfo *all = NULL;
    DIR *d = opendir("/proc");
    struct dirent *e;
    while (d && (e = readdir(d))) {
        char *end;
        long v = strtol(e->d_name, &end, 10);
        struct pinfo pi;
        if (*end || v <= 0 || !read_stat((pid_t)v, &pi)) {
            continue;
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 256;
            all = mp_xreallocarray(all, cap, sizeof(*all));
        }
        all[n++] = pi;
    }
    if (d) {
        closedir(d);
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        pid_t cur = all[i].ppid;
        bool below = false;
        for (int depth = 0; depth < 128 && cur > 1 && !below; depth++) {
            below = cur == root;
            size_t j = 0;
            while (j < n && all[j].pid != cur) {
                j++;
            }
            cur = j < n ? all[j].ppid : 0;
        }
        if (below && all[i].state != 'Z' && all[i].state != 'X') {
            all[k++] = all[i];
        }
    }
    *n_out = k;
    return all;
}

int mp_proc_kill_tree(struct mp_proc *p, int sig)
{
    if (p->shim <= 0 || p->shim_reaped) {
        return 0;
    }
    int total = 0;
    for (int round = 0; round < 16; round++) {
        size_t n = 0;
        struct pinfo *t = scan_tree(p->shim, &n);
        for (size_t i = 0; i < n; i++) {
            if (kill(t[i].pid, sig) == 0) {
                total++;
            }
        }
        free(t);
        if (n == 0 || sig != SIGKILL) {
            break;
        }
        usleep(2000);
    }
    return total;
}

int mp_proc_count_tree(const struct mp_proc *p)
{
    if (p->shim <= 0 || p->shim_reaped) {
        return 0;
    }
    size_t n = 0;
    free(scan_tree(p->shim, &n));
    return (int)n;
}

size_t mp_proc_tree_pids(const struct mp_proc *p, pid_t *pids, size_t max)
{
    if (p->shim <= 0 || p->shim_reaped) {
        return 0;
    }
    size_t n = 0;
    struct pinfo *t = scan_tree(p->shim, &n);
    size_t k = 0;
    for (; k < n && k < max; k++) {
        pids[k] = t[k].pid;
    }
    free(t);
    return k;
}
