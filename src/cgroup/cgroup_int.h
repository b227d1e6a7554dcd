/* SPDX-License-Identifier: Apache-2.0 */
/* Internals shared by the cgroup files: helpers for reading and writing control files
 * (cgroup_files.c), used by detection (cgroup_detect.c) and per-trial groups (cgroup.c), and
 * the v1 cpuset set-up both need.
 * Paths are dir/file; file may be NULL for read_text to read dir itself. Thread-safe: they keep
 * no state. */
#ifndef MP_CGROUP_INT_H
#define MP_CGROUP_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "cgroup/cgroup.h"

/* Writes text to dir/file in one write(); 0 or -errno. */
int mp_cgroup_write_text(const char *dir, const char *file, const char *text);
/* Reads a control file into an owned string; NULL when unreadable. */
char *mp_cgroup_read_text(const char *dir, const char *file);
bool mp_cgroup_file_exists(const char *dir, const char *file);
/* Value of "key N" in a flat-keyed file (cpu.stat, memory.events, memory.oom_control). */
bool mp_cgroup_read_keyed(const char *dir, const char *file, const char *key, uint64_t *out);
/* The first number of a one-value file (memory.peak, cpuacct.usage...). */
bool mp_cgroup_read_u64(const char *dir, const char *file, uint64_t *out);
/* How deep groups made inside a trial's group (by a service managing cgroups of its own) are
 * looked into: their processes are the trial's, and they go when the trial's group goes. */
#define MP_CGROUP_MAX_DEPTH 8
/* Removes dir and the groups below it (up to depth levels), deepest first; 0 or the -errno of
 * removing dir itself. */
int mp_cgroup_rmdir_tree(const char *dir, int depth);
/* The controllers' names, by enum mp_cgroup_ctl ("cpu", "memory", ...; cgroup_detect.c). */
extern const char *const mp_cgroup_ctl_names[MP_CGCTL_N];
/* v1 cpuset groups start with empty cpus/mems: copies the parent's so tasks can join
 * (cgroup_detect.c). 0 or -errno. */
int mp_cgroup_cpuset_inherit(const char *dir);

#endif
