/* SPDX-License-Identifier: Apache-2.0 */
/* cgroup v1 / v2 / hybrid detection, per-trial groups, limits, usage and teardown. All state is
 * in the cgroup file systems; this file only reads and writes their control files. */
#include "cgroup/cgroup.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CTL_FILE_MAX (256u * 1024u)

static const char *const ctl_names[MP_CGCTL_N] = {"cpu",  "cpuset",  "memory",
                                                  "pids", "cpuacct", "freezer"};

struct mp_cgroup {
    char *name;
    char *v1_dir[MP_CGCTL_N]; /* NULL when absent; co-mounted controllers share a string */
    bool v1_owner[MP_CGCTL_N];
    char *v2_dir;
    bool v2_kill;
    bool v2_ctl[MP_CGCTL_N];
    unsigned enforced;
    const char *procs[MP_CGCTL_N + 2];
    char *procs_owned[MP_CGCTL_N + 2];
};

/* ---- small file helpers ---- */

static int write_text(const char *dir, const char *file, const char *text)
{
    char *path = mp_xasprintf("%s/%s", dir, file);
    int rc = 0;
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) {
        rc = -errno;
    } else {
        size_t len = strlen(text);
        if (write(fd, text, len) != (ssize_t)len) {
            rc = -errno;
        }
        if (close(fd) != 0 && rc == 0) {
            rc = -errno;
        }
    }
    free(path);
    return rc;
}

/* Reads a control file into an owned string; NULL when unreadable. */
static char *read_text(const char *dir, const char *file)
{
    char *path = file ? mp_xasprintf("%s/%s", dir, file) : mp_xstrdup(dir);
    struct mp_buf b = MP_BUF_INIT;
    char *s = NULL;
    if (mp_buf_read_file(&b, path, CTL_FILE_MAX, NULL) == 0) {
        s = mp_buf_detach(&b);
    }
    mp_buf_release(&b);
    free(path);
    return s;
}

static bool file_exists(const char *dir, const char *file)
{
    char *path = mp_xasprintf("%s/%s", dir, file);
    bool ok = access(path, F_OK) == 0;
    free(path);
    return ok;
}

/* Value of "key N" in a flat-keyed file (cpu.stat, memory.events, memory.oom_control). */
static bool read_keyed(const char *dir, const char *file, const char *key, uint64_t *out)
{
    char *s = read_text(dir, file);
    bool found = false;
    size_t klen = strlen(key);
    for (char *line = s; line && *line && !found;) {
        char *nl = strchr(line, '\n');
        if (strncmp(line, key, klen) == 0 && line[klen] == ' ') {
            found = sscanf(line + klen + 1, "%" SCNu64, out) == 1;
        }
        line = nl ? nl + 1 : NULL;
    }
    free(s);
    return found;
}

static bool read_u64(const char *dir, const char *file, uint64_t *out)
{
    char *s = read_text(dir, file);
    bool ok = s && sscanf(s, "%" SCNu64, out) == 1;
    free(s);
    return ok;
}

static void trim(char *s)
{
    size_t n = strlen(s);
    while (n && (s[n - 1] == '\n' || s[n - 1] == ' ')) {
        s[--n] = '\0';
    }
}

static void warn(struct mp_cgroup_system *sys, const char *fmt, ...) MP_PRINTF(2, 3);
static void warn(struct mp_cgroup_system *sys, const char *fmt, ...)
{
    size_t used = strlen(sys->warning);
    if (used + 4 >= sizeof(sys->warning)) {
        return;
    }
    if (used) {
        used += (size_t)snprintf(sys->warning + used, sizeof(sys->warning) - used, "; ");
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sys->warning + used, sizeof(sys->warning) - used, fmt, ap);
    va_end(ap);
}

/* ---- detection ---- */

struct mounts {
    char *v1[MP_CGCTL_N]; /* mount point per v1 controller */
    char *v1_root[MP_CGCTL_N];
    char *v2, *v2_root;
};

static void mounts_release(struct mounts *m)
{
    for (int c = 0; c < MP_CGCTL_N; c++) {
        free(m->v1[c]);
        free(m->v1_root[c]);
    }
    free(m->v2);
    free(m->v2_root);
}

/* True when the comma-separated list has the item. */
static bool list_has(const char *list, const char *item)
{
    size_t n = strlen(item);
    for (const char *p = list; p && *p;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (len == n && strncmp(p, item, n) == 0) {
            return true;
        }
        p = comma ? comma + 1 : NULL;
    }
    return false;
}

/* One /proc/self/mountinfo line: "id parent maj:min root mountpoint opts ... - fstype src sopts".
 */
static void parse_mount_line(char *line, struct mounts *m)
{
    char root[1024], point[1024], fstype[64], sopts[1024];
    char *dash = strstr(line, " - ");
    if (!dash || sscanf(line, "%*s %*s %*s %1023s %1023s", root, point) != 2 ||
        sscanf(dash + 3, "%63s %*s %1023s", fstype, sopts) != 2) {
        return;
    }
    if (strcmp(fstype, "cgroup2") == 0 && !m->v2) {
        m->v2 = mp_xstrdup(point);
        m->v2_root = mp_xstrdup(root);
    } else if (strcmp(fstype, "cgroup") == 0) {
        for (int c = 0; c < MP_CGCTL_N; c++) {
            if (!m->v1[c] && list_has(sopts, ctl_names[c])) {
                m->v1[c] = mp_xstrdup(point);
                m->v1_root[c] = mp_xstrdup(root);
            }
        }
    }
}

static void read_mounts(struct mounts *m)
{
    char *s = read_text("/proc/self/mountinfo", NULL);
    for (char *line = s; line && *line;) {
        char *nl = strchr(line, '\n');
        if (nl) {
            *nl = '\0';
        }
        parse_mount_line(line, m);
        line = nl ? nl + 1 : NULL;
    }
    free(s);
}

/* Own group path in the hierarchy with the given controller (NULL: the v2 "0::" line). */
static char *own_path(const char *ctl)
{
    char *s = read_text("/proc/self/cgroup", NULL);
    char *found = NULL;
    for (char *line = s; line && *line && !found;) {
        char *nl = strchr(line, '\n');
        if (nl) {
            *nl = '\0';
        }
        char *c1 = strchr(line, ':');
        char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        if (c2) {
            *c2 = '\0';
            bool match = ctl ? list_has(c1 + 1, ctl) : strcmp(line, "0:") == 0 && !c1[1];
            if (match) {
                found = mp_xstrdup(c2 + 1);
            }
        }
        line = nl ? nl + 1 : NULL;
    }
    free(s);
    return found ? found : mp_xstrdup("/");
}

/* Directory of the base group for a hierarchy mounted at point whose mount root is root. */
static char *base_dir(const char *point, const char *root, const char *own, const char *parent)
{
    const char *name = parent ? parent : "morphling";
    if (name[0] == '/') {
        return mp_xasprintf("%s%s", point, name);
    }
    size_t rl = strlen(root);
    const char *rel = own;
    if (strcmp(root, "/") != 0 && strncmp(own, root, rl) == 0) {
        rel = own + rl;
    }
    size_t len = strlen(rel);
    while (len && rel[len - 1] == '/') {
        len--;
    }
    return mp_xasprintf("%s%.*s/%s", point, (int)len, rel, name);
}

/* mkdir -p below an existing mount point. */
static int mkdirs(const char *dir)
{
    char *p = mp_xstrdup(dir);
    int rc = 0;
    for (char *s = p + 1; rc == 0; s++) {
        if (*s == '/' || *s == '\0') {
            char saved = *s;
            *s = '\0';
            if (mkdir(p, 0755) != 0 && errno != EEXIST) {
                rc = -errno;
            }
            *s = saved;
            if (!saved) {
                break;
            }
        }
    }
    free(p);
    return rc;
}

static char *parent_of(const char *dir)
{
    const char *slash = strrchr(dir, '/');
    return mp_xstrndup(dir, slash && slash != dir ? (size_t)(slash - dir) : 1);
}

/* mkdir -p, then the group must also be writable (it may exist, made by another user). */
static int prepare_base(const char *dir)
{
    int rc = mkdirs(dir);
    if (rc == 0 && access(dir, W_OK) != 0) {
        rc = -errno;
    }
    return rc;
}

/* v1 cpuset groups start with empty cpus/mems; copy the parent's so tasks can join. */
static int cpuset_inherit(const char *dir)
{
    static const char *const files[] = {"cpuset.cpus", "cpuset.mems"};
    char *parent = parent_of(dir);
    int rc = 0;
    for (size_t i = 0; i < MP_ARRAY_LEN(files) && rc == 0; i++) {
        char *mine = read_text(dir, files[i]);
        if (mine) {
            trim(mine);
        }
        if (mine && !*mine) {
            char *theirs = read_text(parent, files[i]);
            if (theirs) {
                trim(theirs);
                rc = write_text(dir, files[i], theirs);
            }
            free(theirs);
        }
        free(mine);
    }
    free(parent);
    return rc;
}

static void detect_v1(struct mp_cgroup_system *sys, const struct mounts *m, const char *parent)
{
    for (int c = 0; c < MP_CGCTL_N; c++) {
        if (!m->v1[c]) {
            continue;
        }
        char *own = own_path(ctl_names[c]);
        char *dir = base_dir(m->v1[c], m->v1_root[c], own, parent);
        free(own);
        int rc = prepare_base(dir);
        if (rc == 0 && c == MP_CGCTL_CPUSET) {
            rc = cpuset_inherit(dir);
        }
        if (rc != 0) {
            warn(sys, "cgroup v1 %s: cannot use '%s': %s", ctl_names[c], dir, strerror(-rc));
            free(dir);
            continue;
        }
        sys->v1_base[c] = dir;
    }
}

/* Enables ctl for the children of dir. */
static bool enable_ctl(const char *dir, const char *ctl)
{
    char *cur = read_text(dir, "cgroup.subtree_control");
    bool on = false;
    for (char *t = cur; t && *t && !on;) {
        size_t n = strcspn(t, " \n");
        on = n == strlen(ctl) && strncmp(t, ctl, n) == 0;
        t += n;
        t += strspn(t, " \n");
    }
    free(cur);
    if (on) {
        return true;
    }
    char *cmd = mp_xasprintf("+%s", ctl);
    int rc = write_text(dir, "cgroup.subtree_control", cmd);
    free(cmd);
    return rc == 0;
}

/* Enables the wanted controllers on the path from base's parent to base. */
static bool enable_v2(struct mp_cgroup_system *sys, const char *base, const bool want[MP_CGCTL_N])
{
    char *parent = parent_of(base);
    char *avail = read_text(parent, "cgroup.controllers");
    bool all = true;
    for (int c = 0; c < MP_CGCTL_N; c++) {
        sys->v2_ctl[c] = false;
        if (!want[c]) {
            continue;
        }
        bool listed = false;
        for (char *t = avail; t && *t && !listed;) {
            size_t n = strcspn(t, " \n");
            listed = n == strlen(ctl_names[c]) && strncmp(t, ctl_names[c], n) == 0;
            t += n;
            t += strspn(t, " \n");
        }
        if (!listed) {
            continue;
        }
        sys->v2_ctl[c] = enable_ctl(parent, ctl_names[c]) && enable_ctl(base, ctl_names[c]);
        all = all && sys->v2_ctl[c];
    }
    free(avail);
    free(parent);
    return all;
}

static void detect_v2(struct mp_cgroup_system *sys, const struct mounts *m, const char *parent)
{
    bool want[MP_CGCTL_N] = {false};
    bool any = false;
    for (int c = MP_CGCTL_CPU; c <= MP_CGCTL_PIDS; c++) {
        want[c] = !sys->v1_base[c];
        any = any || want[c];
    }
    char *own = own_path(NULL);
    char *dir = base_dir(m->v2, m->v2_root, own, parent);
    int rc = prepare_base(dir);
    if (rc == 0 && any && !enable_v2(sys, dir, want) && !parent && strcmp(own, "/") != 0) {
        /* The own group holds processes, so it cannot hand controllers down: use the root. */
        char *alt = base_dir(m->v2, "/", "/", NULL);
        if (prepare_base(alt) == 0 && enable_v2(sys, alt, want)) {
            rmdir(dir);
            free(dir);
            dir = alt;
        } else {
            free(alt);
            enable_v2(sys, dir, want);
        }
    }
    free(own);
    if (rc != 0) {
        warn(sys, "cgroup v2: cannot use '%s': %s", dir, strerror(-rc));
        free(dir);
        return;
    }
    for (int c = MP_CGCTL_CPU; c <= MP_CGCTL_PIDS; c++) {
        if (want[c] && !sys->v2_ctl[c]) {
            warn(sys, "controller %s is not available to '%s'", ctl_names[c], dir);
        }
    }
    sys->v2_base = dir;
}

int mp_cgroup_detect(struct mp_cgroup_system *sys, const char *parent, struct mp_error *err)
{
    memset(sys, 0, sizeof(*sys));
    if (parent && (!*parent || strstr(parent, ".."))) {
        return mp_error_set(err, MP_EINVALID, "cgroup parent '%s': expected a group name", parent);
    }
    struct mounts m;
    memset(&m, 0, sizeof(m));
    read_mounts(&m);
    detect_v1(sys, &m, parent);
    if (m.v2) {
        detect_v2(sys, &m, parent);
    }
    bool v1 = false;
    for (int c = 0; c < MP_CGCTL_N; c++) {
        v1 = v1 || sys->v1_base[c];
    }
    sys->mode = v1 && sys->v2_base ? MP_CGROUP_HYBRID
                : v1               ? MP_CGROUP_V1
                : sys->v2_base     ? MP_CGROUP_V2
                                   : MP_CGROUP_NONE;
    if (!m.v2 && !v1) {
        warn(sys, "no cgroup hierarchy is mounted");
    }
    mounts_release(&m);
    (void)mp_cgroup_sweep(sys); /* groups a killed run left behind */
    return 0;
}

void mp_cgroup_system_release(struct mp_cgroup_system *sys)
{
    for (int c = 0; c < MP_CGCTL_N; c++) {
        free(sys->v1_base[c]);
    }
    free(sys->v2_base);
    memset(sys, 0, sizeof(*sys));
}

const char *mp_cgroup_mode_name(enum mp_cgroup_mode m)
{
    switch (m) {
    case MP_CGROUP_V1:
        return "v1";
    case MP_CGROUP_HYBRID:
        return "hybrid";
    case MP_CGROUP_V2:
        return "v2";
    default:
        return "none";
    }
}

static bool has_ctl(const struct mp_cgroup_system *sys, int c)
{
    return sys->v1_base[c] || (sys->v2_base && sys->v2_ctl[c]);
}

unsigned mp_cgroup_system_limits(const struct mp_cgroup_system *sys)
{
    return (has_ctl(sys, MP_CGCTL_CPU) ? MP_CGLIM_CPU : 0) |
           (has_ctl(sys, MP_CGCTL_CPUSET) ? MP_CGLIM_CPUSET : 0) |
           (has_ctl(sys, MP_CGCTL_MEMORY) ? MP_CGLIM_MEMORY : 0) |
           (has_ctl(sys, MP_CGCTL_PIDS) ? MP_CGLIM_PIDS : 0);
}

bool mp_cgroup_system_usable(const struct mp_cgroup_system *sys)
{
    return sys->mode != MP_CGROUP_NONE;
}

/* ---- trial groups ---- */

static bool valid_name(const char *name)
{
    if (!*name || strlen(name) > 200 || name[0] == '.') {
        return false;
    }
    for (const char *p = name; *p; p++) {
        bool ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                  (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || *p == '.';
        if (!ok) {
            return false;
        }
    }
    return true;
}

static size_t pids_in(const char *dir, pid_t *pids, size_t max)
{
    char *s = read_text(dir, "cgroup.procs");
    size_t n = 0;
    for (char *p = s; p && *p;) {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p) {
            break;
        }
        if (v > 0) {
            if (pids && n < max) {
                pids[n] = (pid_t)v;
            }
            n++;
        }
        p = end;
    }
    free(s);
    return n;
}

/* Each distinct directory once: the v2 one, then v1 ones not shared with an earlier entry. */
static size_t dirs_of(const struct mp_cgroup *cg, const char *out[MP_CGCTL_N + 1])
{
    size_t n = 0;
    if (cg->v2_dir) {
        out[n++] = cg->v2_dir;
    }
    for (int c = 0; c < MP_CGCTL_N; c++) {
        if (cg->v1_dir[c] && cg->v1_owner[c]) {
            out[n++] = cg->v1_dir[c];
        }
    }
    return n;
}

int mp_cgroup_count(const struct mp_cgroup *cg)
{
    const char *dirs[MP_CGCTL_N + 1];
    size_t nd = dirs_of(cg, dirs), most = 0;
    for (size_t i = 0; i < nd; i++) {
        size_t n = pids_in(dirs[i], NULL, 0);
        most = n > most ? n : most;
    }
    return (int)most;
}

size_t mp_cgroup_pids(const struct mp_cgroup *cg, pid_t *pids, size_t max)
{
    const char *dirs[MP_CGCTL_N + 1];
    size_t nd = dirs_of(cg, dirs);
    size_t best = 0;
    for (size_t i = 0; i < nd; i++) {
        size_t n = pids_in(dirs[i], NULL, 0);
        if (n > best) {
            best = pids_in(dirs[i], pids, max);
        }
    }
    return best < max ? best : max;
}

static bool freeze(const char *dir, const char *state)
{
    if (write_text(dir, "freezer.state", state) != 0) {
        return false;
    }
    for (int i = 0; i < 200; i++) {
        char *s = read_text(dir, "freezer.state");
        bool done = s && strncmp(s, state, strlen(state)) == 0;
        free(s);
        if (done) {
            return true;
        }
        usleep(1000);
    }
    return false;
}

int mp_cgroup_kill(struct mp_cgroup *cg)
{
    if (cg->v2_dir && cg->v2_kill && write_text(cg->v2_dir, "cgroup.kill", "1") == 0) {
        return 0;
    }
    const char *fz = cg->v1_dir[MP_CGCTL_FREEZER];
    for (int round = 0; round < 100; round++) {
        bool frozen = fz && freeze(fz, "FROZEN");
        pid_t pids[4096];
        size_t n = mp_cgroup_pids(cg, pids, MP_ARRAY_LEN(pids));
        for (size_t i = 0; i < n; i++) {
            kill(pids[i], SIGKILL);
        }
        if (frozen) {
            freeze(fz, "THAWED");
        }
        if (n == 0) {
            return 0;
        }
        usleep(2000);
    }
    return mp_cgroup_count(cg) == 0 ? 0 : -EBUSY;
}

static void add_procs(struct mp_cgroup *cg, size_t *n, const char *dir)
{
    for (size_t i = 0; i < *n; i++) {
        if (strncmp(cg->procs[i], dir, strlen(dir)) == 0 &&
            strcmp(cg->procs[i] + strlen(dir), "/cgroup.procs") == 0) {
            return;
        }
    }
    cg->procs_owned[*n] = mp_xasprintf("%s/cgroup.procs", dir);
    cg->procs[*n] = cg->procs_owned[*n];
    (*n)++;
}

/* Removes a leftover group of the same name (a killed run's), killing what is in it. */
static int make_fresh(const char *dir)
{
    if (mkdir(dir, 0755) == 0) {
        return 0;
    }
    if (errno != EEXIST) {
        return -errno;
    }
    for (int i = 0; i < 500 && rmdir(dir) != 0; i++) {
        if (write_text(dir, "cgroup.kill", "1") != 0) {
            pid_t pids[1024];
            size_t n = pids_in(dir, pids, MP_ARRAY_LEN(pids));
            for (size_t k = 0; k < n && k < MP_ARRAY_LEN(pids); k++) {
                kill(pids[k], SIGKILL);
            }
        }
        usleep(2000);
    }
    return mkdir(dir, 0755) == 0 ? 0 : -errno;
}

static void set_cpu(struct mp_cgroup *cg, const struct mp_cgroup_limits *lim)
{
    const int64_t period = 100000;
    int64_t quota = (int64_t)llround(lim->cpu_cores * (double)period);
    quota = quota < 1000 ? 1000 : quota;
    char q[32], pr[32];
    snprintf(q, sizeof(q), "%" PRId64, quota);
    snprintf(pr, sizeof(pr), "%" PRId64, period);
    if (cg->v1_dir[MP_CGCTL_CPU]) {
        if (write_text(cg->v1_dir[MP_CGCTL_CPU], "cpu.cfs_period_us", pr) == 0 &&
            write_text(cg->v1_dir[MP_CGCTL_CPU], "cpu.cfs_quota_us", q) == 0) {
            cg->enforced |= MP_CGLIM_CPU;
        }
    } else if (cg->v2_dir && cg->v2_ctl[MP_CGCTL_CPU]) {
        char *v = mp_xasprintf("%s %s", q, pr);
        if (write_text(cg->v2_dir, "cpu.max", v) == 0) {
            cg->enforced |= MP_CGLIM_CPU;
        }
        free(v);
    }
}

static void set_memory(struct mp_cgroup *cg, const struct mp_cgroup_limits *lim)
{
    char v[32];
    snprintf(v, sizeof(v), "%" PRIu64, lim->memory_bytes);
    const char *d1 = cg->v1_dir[MP_CGCTL_MEMORY];
    if (d1) {
        if (write_text(d1, "memory.limit_in_bytes", v) == 0) {
            cg->enforced |= MP_CGLIM_MEMORY;
            if (file_exists(d1, "memory.memsw.limit_in_bytes")) {
                (void)write_text(d1, "memory.memsw.limit_in_bytes", v);
            }
        }
    } else if (cg->v2_dir && cg->v2_ctl[MP_CGCTL_MEMORY]) {
        if (write_text(cg->v2_dir, "memory.max", v) == 0) {
            cg->enforced |= MP_CGLIM_MEMORY;
            if (file_exists(cg->v2_dir, "memory.swap.max")) {
                (void)write_text(cg->v2_dir, "memory.swap.max", "0");
            }
        }
    }
}

static void set_limits(struct mp_cgroup *cg, const struct mp_cgroup_limits *lim)
{
    if (lim->cpu_cores > 0) {
        set_cpu(cg, lim);
    }
    if (lim->memory_bytes > 0) {
        set_memory(cg, lim);
    }
    if (lim->pids_max > 0) {
        char v[32];
        snprintf(v, sizeof(v), "%" PRId64, lim->pids_max);
        const char *d = cg->v1_dir[MP_CGCTL_PIDS] ? cg->v1_dir[MP_CGCTL_PIDS]
                                                  : (cg->v2_ctl[MP_CGCTL_PIDS] ? cg->v2_dir : NULL);
        if (d && write_text(d, "pids.max", v) == 0) {
            cg->enforced |= MP_CGLIM_PIDS;
        }
    }
    if (lim->cpuset && *lim->cpuset) {
        const char *d = cg->v1_dir[MP_CGCTL_CPUSET]
                            ? cg->v1_dir[MP_CGCTL_CPUSET]
                            : (cg->v2_ctl[MP_CGCTL_CPUSET] ? cg->v2_dir : NULL);
        if (d && write_text(d, "cpuset.cpus", lim->cpuset) == 0) {
            cg->enforced |= MP_CGLIM_CPUSET;
        }
    }
}

static int create_dirs(struct mp_cgroup *cg, const struct mp_cgroup_system *sys, const char *name,
                       struct mp_error *err)
{
    size_t np = 0;
    if (sys->v2_base) {
        char *dir = mp_xasprintf("%s/%s", sys->v2_base, name);
        int rc = make_fresh(dir);
        if (rc != 0) {
            free(dir);
            return mp_error_set(err, rc, "cgroup '%s/%s': %s", sys->v2_base, name, strerror(-rc));
        }
        cg->v2_dir = dir;
        cg->v2_kill = file_exists(dir, "cgroup.kill");
        memcpy(cg->v2_ctl, sys->v2_ctl, sizeof(cg->v2_ctl));
        add_procs(cg, &np, dir);
    }
    for (int c = 0; c < MP_CGCTL_N; c++) {
        if (!sys->v1_base[c]) {
            continue;
        }
        for (int o = 0; o < c && !cg->v1_dir[c]; o++) {
            if (sys->v1_base[o] && strcmp(sys->v1_base[o], sys->v1_base[c]) == 0) {
                cg->v1_dir[c] = cg->v1_dir[o]; /* co-mounted: same directory */
            }
        }
        if (cg->v1_dir[c]) {
            continue;
        }
        char *dir = mp_xasprintf("%s/%s", sys->v1_base[c], name);
        int rc = make_fresh(dir);
        if (rc == 0 && c == MP_CGCTL_CPUSET) {
            rc = cpuset_inherit(dir);
        }
        if (rc != 0) {
            rmdir(dir);
            free(dir);
            return mp_error_set(err, rc, "cgroup '%s/%s': %s", sys->v1_base[c], name,
                                strerror(-rc));
        }
        cg->v1_dir[c] = dir;
        cg->v1_owner[c] = true;
        add_procs(cg, &np, dir);
    }
    return 0;
}

int mp_cgroup_create(const struct mp_cgroup_system *sys, const char *name,
                     const struct mp_cgroup_limits *lim, struct mp_cgroup **out,
                     struct mp_error *err)
{
    *out = NULL;
    if (!valid_name(name)) {
        return mp_error_set(err, MP_EINVALID, "cgroup name '%s': use letters, digits, '-_.'", name);
    }
    if (!mp_cgroup_system_usable(sys)) {
        return mp_error_set(err, MP_EUNSUPPORTED, "no usable cgroup hierarchy: %s",
                            sys->warning[0] ? sys->warning : "none detected");
    }
    char tag[MP_CGROUP_OWNER_TAG_MAX];
    mp_cgroup_owner_tag(tag, sizeof(tag));
    struct mp_cgroup *cg = mp_xcalloc(1, sizeof(*cg));
    cg->name = mp_xasprintf("%s%s", name, tag);
    int rc = create_dirs(cg, sys, cg->name, err);
    if (rc != 0) {
        int drc = mp_cgroup_destroy(cg, mp_mono_ns(), NULL);
        (void)drc;
        mp_cgroup_free(cg);
        return rc;
    }
    set_limits(cg, lim);
    *out = cg;
    return 0;
}

unsigned mp_cgroup_enforced(const struct mp_cgroup *cg)
{
    return cg->enforced;
}

const char *const *mp_cgroup_procs_files(const struct mp_cgroup *cg)
{
    return cg->procs;
}

const char *mp_cgroup_path(const struct mp_cgroup *cg)
{
    if (cg->v2_dir) {
        return cg->v2_dir;
    }
    for (int c = 0; c < MP_CGCTL_N; c++) {
        if (cg->v1_dir[c]) {
            return cg->v1_dir[c];
        }
    }
    return "";
}

void mp_cgroup_stats(const struct mp_cgroup *cg, struct mp_cgroup_stats *st)
{
    memset(st, 0, sizeof(*st));
    uint64_t v = 0;
    if (cg->v2_dir && read_keyed(cg->v2_dir, "cpu.stat", "usage_usec", &v)) {
        st->has_cpu = true;
        st->cpu_seconds = (double)v / 1e6;
    } else if (cg->v1_dir[MP_CGCTL_CPUACCT] &&
               read_u64(cg->v1_dir[MP_CGCTL_CPUACCT], "cpuacct.usage", &v)) {
        st->has_cpu = true;
        st->cpu_seconds = (double)v / 1e9;
    }
    const char *m1 = cg->v1_dir[MP_CGCTL_MEMORY];
    if (m1) {
        st->has_memory = read_u64(m1, "memory.max_usage_in_bytes", &st->peak_memory_bytes);
        st->has_oom = read_keyed(m1, "memory.oom_control", "oom_kill", &st->oom_kills);
    } else if (cg->v2_dir && cg->v2_ctl[MP_CGCTL_MEMORY]) {
        st->has_memory = read_u64(cg->v2_dir, "memory.peak", &st->peak_memory_bytes);
        st->has_oom = read_keyed(cg->v2_dir, "memory.events", "oom_kill", &st->oom_kills);
    }
}

int mp_cgroup_destroy(struct mp_cgroup *cg, int64_t deadline_ns, struct mp_error *err)
{
    const char *dirs[MP_CGCTL_N + 1];
    size_t nd = dirs_of(cg, dirs);
    int kill_rc = mp_cgroup_kill(cg);
    while (mp_cgroup_count(cg) > 0 && mp_mono_ns() < deadline_ns) {
        usleep(2000);
        kill_rc = mp_cgroup_kill(cg);
    }
    int left = mp_cgroup_count(cg);
    if (left > 0) {
        return mp_error_set(err, -EBUSY, "cgroup '%s': %d processes survived the kill (%s)",
                            mp_cgroup_path(cg), left, strerror(kill_rc < 0 ? -kill_rc : 0));
    }
    int rc = 0;
    for (size_t i = 0; i < nd; i++) {
        /* An emptied group can stay busy for a moment while its last task exits. */
        int tries = 0;
        while (rmdir(dirs[i]) != 0 && errno == EBUSY && tries++ < 250) {
            usleep(2000);
        }
        if (access(dirs[i], F_OK) == 0) {
            rc = mp_error_set(err, -EBUSY, "cgroup '%s' could not be removed", dirs[i]);
        }
    }
    return rc;
}

void mp_cgroup_free(struct mp_cgroup *cg)
{
    if (!cg) {
        return;
    }
    for (int c = 0; c < MP_CGCTL_N; c++) {
        if (cg->v1_owner[c]) {
            free(cg->v1_dir[c]);
        }
    }
    for (size_t i = 0; i < MP_ARRAY_LEN(cg->procs_owned); i++) {
        free(cg->procs_owned[i]);
    }
    free(cg->v2_dir);
    free(cg->name);
    free(cg);
}
