/* SPDX-License-Identifier: Apache-2.0 */
/* Reading and writing cgroup control files: all the state of a cgroup lives in its file
 * system, so these few helpers are all the I/O the cgroup code does. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cgroup/cgroup_int.h"

#define CTL_FILE_MAX (256u * 1024u)

int mp_cgroup_write_text(const char *dir, const char *file, const char *text)
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
char *mp_cgroup_read_text(const char *dir, const char *file)
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

bool mp_cgroup_file_exists(const char *dir, const char *file)
{
    char *path = mp_xasprintf("%s/%s", dir, file);
    bool ok = access(path, F_OK) == 0;
    free(path);
    return ok;
}

/* Value of "key N" in a flat-keyed file (cpu.stat, memory.events, memory.oom_control). */
bool mp_cgroup_read_keyed(const char *dir, const char *file, const char *key, uint64_t *out)
{
    char *s = mp_cgroup_read_text(dir, file);
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

bool mp_cgroup_read_u64(const char *dir, const char *file, uint64_t *out)
{
    char *s = mp_cgroup_read_text(dir, file);
    bool ok = s && sscanf(s, "%" SCNu64, out) == 1;
    free(s);
    return ok;
}

int mp_cgroup_rmdir_tree(const char *dir, int depth)
{
    DIR *d = depth > 0 ? opendir(dir) : NULL;
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {
        if (e->d_type == DT_DIR && e->d_name[0] != '.') {
            char *sub = mp_xasprintf("%s/%s", dir, e->d_name);
            (void)mp_cgroup_rmdir_tree(sub, depth - 1);
            free(sub);
        }
    }
    if (d) {
        closedir(d);
    }
    return rmdir(dir) == 0 ? 0 : -errno;
}
