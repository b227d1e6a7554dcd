/* SPDX-License-Identifier: Apache-2.0 */
/* cgroup v1 / v2 / hybrid detection: which hierarchies are mounted, where this process's
 * groups are, which controllers a base group below them can use, and what that means for the
 * limits a trial can get. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgroup/cgroup_int.h"

const char *const mp_cgroup_ctl_names[MP_CGCTL_N] = {"cpu",  "cpuset",  "memory",
                                                     "pids", "cpuacct", "freezer"};

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
            if (!m->v1[c] && list_has(sopts, mp_cgroup_ctl_names[c])) {
                m->v1[c] = mp_xstrdup(point);
                m->v1_root[c] = mp_xstrdup(root);
            }
        }
    }
}

static void read_mounts(struct mounts *m)
{
    char *s = mp_cgroup_read_text("/proc/self/mountinfo", NULL);
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
    char *s = mp_cgroup_read_text("/proc/self/cgroup", NULL);
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
int mp_cgroup_cpuset_inherit(const char *dir)
{
    static const char *const files[] = {"cpuset.cpus", "cpuset.mems"};
    char *parent = parent_of(dir);
    int rc = 0;
    for (size_t i = 0; i < MP_ARRAY_LEN(files) && rc == 0; i++) {
        char *mine = mp_cgroup_read_text(dir, files[i]);
        if (mine) {
            trim(mine);
        }
        if (mine && !*mine) {
            char *theirs = mp_cgroup_read_text(parent, files[i]);
            if (theirs) {
                trim(theirs);
                rc = mp_cgroup_write_text(dir, files[i], theirs);
            }
            free(theirs);
        }
        free(mine);
    }
    free(parent);
    return rc;
}

/* mp_cgroup_cpuset_inherit on every level from below the mount point down to dir: a nested
 * parent ("team/morphling") makes the levels above the base too, all with empty cpus and mems,
 * and the base copying its empty parent left every trial unable to join ("No space left on
 * device"). */
static int cpuset_inherit_down(const char *point, const char *dir)
{
    size_t pl = strlen(point);
    if (strlen(dir) <= pl + 1) {
        return mp_cgroup_cpuset_inherit(dir);
    }
    char *p = mp_xstrdup(dir);
    int rc = 0;
    for (char *s = p + pl + 1; rc == 0; s++) {
        if (*s == '/' || *s == '\0') {
            char saved = *s;
            *s = '\0';
            rc = mp_cgroup_cpuset_inherit(p);
            *s = saved;
            if (!saved) {
                break;
            }
        }
    }
    free(p);
    return rc;
}

/* Controllers that fail alike (not root: EACCES for every one) share one warning, naming the
 * first directory: one per controller filled the 512-byte warning before the v2 tree's, cut
 * mid-word ("... cannot use '/sys/fs/cgroup/freezer/morph"). */
static void detect_v1(struct mp_cgroup_system *sys, const struct mounts *m, const char *parent)
{
    char names[128] = "";
    char *first = NULL;
    int first_rc = 0;
    for (int c = 0; c < MP_CGCTL_N; c++) {
        if (!m->v1[c]) {
            continue;
        }
        char *own = own_path(mp_cgroup_ctl_names[c]);
        char *dir = base_dir(m->v1[c], m->v1_root[c], own, parent);
        free(own);
        int rc = prepare_base(dir);
        if (rc == 0 && c == MP_CGCTL_CPUSET) {
            rc = cpuset_inherit_down(m->v1[c], dir);
        }
        if (rc != 0 && (!first || rc == first_rc)) {
            size_t len = strlen(names);
            snprintf(names + len, sizeof(names) - len, "%s%s", len ? ", " : "",
                     mp_cgroup_ctl_names[c]);
            if (!first) {
                first = dir;
                first_rc = rc;
                continue;
            }
        } else if (rc != 0) {
            warn(sys, "cgroup v1 %s: cannot use '%s': %s", mp_cgroup_ctl_names[c], dir,
                 strerror(-rc));
        }
        if (rc != 0) {
            free(dir);
            continue;
        }
        sys->v1_base[c] = dir;
    }
    if (first) {
        warn(sys, "cgroup v1 %s: cannot use the base groups ('%s'%s): %s", names, first,
             strchr(names, ',') ? " and the like" : "", strerror(-first_rc));
        free(first);
    }
}

/* Enables ctl for the children of dir. */
static bool enable_ctl(const char *dir, const char *ctl)
{
    char *cur = mp_cgroup_read_text(dir, "cgroup.subtree_control");
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
    int rc = mp_cgroup_write_text(dir, "cgroup.subtree_control", cmd);
    free(cmd);
    return rc == 0;
}

/* Enables the wanted controllers on the path from base's parent to base. */
static bool enable_v2(struct mp_cgroup_system *sys, const char *base, const bool want[MP_CGCTL_N])
{
    char *parent = parent_of(base);
    char *avail = mp_cgroup_read_text(parent, "cgroup.controllers");
    bool all = true;
    for (int c = 0; c < MP_CGCTL_N; c++) {
        sys->v2_ctl[c] = false;
        if (!want[c]) {
            continue;
        }
        bool listed = false;
        for (char *t = avail; t && *t && !listed;) {
            size_t n = strcspn(t, " \n");
            listed =
                n == strlen(mp_cgroup_ctl_names[c]) && strncmp(t, mp_cgroup_ctl_names[c], n) == 0;
            t += n;
            t += strspn(t, " \n");
        }
        if (!listed) {
            continue;
        }
        sys->v2_ctl[c] =
            enable_ctl(parent, mp_cgroup_ctl_names[c]) && enable_ctl(base, mp_cgroup_ctl_names[c]);
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
            warn(sys, "controller %s is not available to '%s'", mp_cgroup_ctl_names[c], dir);
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
