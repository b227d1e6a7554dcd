/* SPDX-License-Identifier: Apache-2.0 */
/* Owner tags on trial group names and the sweep that removes groups whose owner is provably
 * gone (a run killed with SIGKILL leaves its empty groups behind). Several morphling processes
 * share the base groups, so a group is judged by its tag only: "-o<PID>.<START>.<PIDNS>", the
 * creating process's id, its start time (clock ticks after boot, /proc/PID/stat field 22) and
 * its PID namespace. A group is stale when its tag names this PID namespace and no process PID
 * with that start time exists; groups without a tag, or from another namespace, are left alone. */
#include "cgroup/cgroup_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Start time of a process (field 22 of /proc/PID/stat); 0 when it does not exist. */
static uint64_t start_time(long pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return 0;
    }
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0) {
        return 0;
    }
    buf[n] = '\0';
    /* The command name (field 2) may hold spaces and parentheses: count from the last ')'. */
    char *p = strrchr(buf, ')');
    for (int field = 2; p && field < 22; field++) {
        p = strchr(p + 1, ' ');
    }
    return p ? strtoull(p + 1, NULL, 10) : 0;
}

static uint64_t pid_namespace(void)
{
    struct stat sb;
    return stat("/proc/self/ns/pid", &sb) == 0 ? (uint64_t)sb.st_ino : 0;
}

void mp_cgroup_owner_tag(char *buf, size_t size)
{
    long pid = (long)getpid();
    snprintf(buf, size, "-o%ld.%" PRIu64 ".%" PRIu64, pid, start_time(pid), pid_namespace());
}

/* Whether a group name carries a tag of this namespace whose owner is gone. */
static bool stale(const char *name, uint64_t ns)
{
    const char *tag = strstr(name, "-o");
    for (const char *t = tag; t; t = strstr(t + 2, "-o")) {
        tag = t; /* the last one */
    }
    long pid = 0;
    uint64_t start = 0, tag_ns = 0;
    char end = 0;
    if (!tag || sscanf(tag, "-o%ld.%" SCNu64 ".%" SCNu64 "%c", &pid, &start, &tag_ns, &end) != 3 ||
        pid <= 0 || tag_ns != ns || ns == 0) {
        return false;
    }
    return start_time(pid) != start;
}

/* Removes a stale group: v2 groups are emptied with cgroup.kill first (v1 ones are only
 * removed when empty). Returns true when it is gone. */
static bool remove_group(const char *dir)
{
    for (int i = 0; i < 100; i++) {
        int rc = mp_cgroup_rmdir_tree(dir, MP_CGROUP_MAX_DEPTH);
        if (rc == 0 || rc == -ENOENT) {
            return true;
        }
        if (rc != -EBUSY) {
            return false;
        }
        char *kill_file = mp_xasprintf("%s/cgroup.kill", dir);
        int fd = open(kill_file, O_WRONLY | O_CLOEXEC);
        free(kill_file);
        if (fd < 0) {
            return false;
        }
        (void)!write(fd, "1", 1);
        close(fd);
        usleep(2000);
    }
    return false;
}

static size_t sweep_base(const char *base, uint64_t ns)
{
    DIR *d = base ? opendir(base) : NULL;
    size_t removed = 0;
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {
        if (e->d_type != DT_DIR || e->d_name[0] == '.' || !stale(e->d_name, ns)) {
            continue;
        }
        char *dir = mp_xasprintf("%s/%s", base, e->d_name);
        removed += remove_group(dir);
        free(dir);
    }
    if (d) {
        closedir(d);
    }
    return removed;
}

size_t mp_cgroup_sweep(const struct mp_cgroup_system *sys)
{
    uint64_t ns = pid_namespace();
    size_t removed = sweep_base(sys->v2_base, ns);
    for (int c = 0; c < MP_CGCTL_N; c++) {
        bool seen = false; /* co-mounted controllers share a base */
        for (int k = 0; k < c && sys->v1_base[c]; k++) {
            seen = seen || (sys->v1_base[k] && strcmp(sys->v1_base[k], sys->v1_base[c]) == 0);
        }
        removed += seen ? 0 : sweep_base(sys->v1_base[c], ns);
    }
    return removed;
}
