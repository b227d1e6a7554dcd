/* SPDX-License-Identifier: Apache-2.0 */
/* Test helper for process supervision: misbehaves in one chosen way so tests can check that
 * the runner still ends up with nothing left. Every mode gives up by itself after at most
 * 60 s so a broken test never leaves it running for long.
 *
 *   proc_antics spin SECONDS      burn one core for SECONDS of wall time, then exit 0
 *   proc_antics alloc MIB         allocate and touch MIB MiB, then sleep
 *   proc_antics spew BYTES        write BYTES to stdout and to stderr, then exit 3
 *   proc_antics tree N            fork N sleeping children, then sleep
 *   proc_antics escape            fork a child that calls setsid(), says "escaped" on stdout
 *                                 and sleeps; sleep
 *   proc_antics daemon            double-fork a setsid() grandchild, parent exits 0
 *   proc_antics ignore-term       ignore SIGTERM, say so on stdout, and sleep
 *   proc_antics exit CODE         print "bye" on stderr and exit with CODE
 *   proc_antics cache MIB         write MIB MiB to a file in the working directory, drop it from
 *                                 the page cache, read it back (its pages are charged to this
 *                                 process's memory cgroup, and reclaimable: no OOM kill), remove
 *                                 it, and exit 3 */
#define _GNU_SOURCE /* posix_fadvise */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LIFETIME_S 60

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void linger(void)
{
    double end = now_s() + LIFETIME_S;
    while (now_s() < end) {
        sleep(1);
    }
    exit(0);
}

static int spin(double seconds)
{
    double end = now_s() + seconds;
    volatile unsigned long x = 0;
    while (now_s() < end) {
        for (int i = 0; i < 100000; i++) {
            x += (unsigned long)i;
        }
    }
    return 0;
}

static void alloc(long mib)
{
    for (long i = 0; i < mib; i++) {
        char *p = malloc(1 << 20);
        if (!p) {
            fprintf(stderr, "malloc failed after %ld MiB\n", i);
            exit(4);
        }
        memset(p, 1, 1 << 20);
    }
    fprintf(stderr, "allocated %ld MiB\n", mib);
    linger();
}

static int spew(long bytes)
{
    char buf[4096];
    for (size_t i = 0; i < sizeof(buf); i++) {
        buf[i] = (char)('a' + i % 26);
    }
    for (long left = bytes; left > 0;) {
        size_t n = left < (long)sizeof(buf) ? (size_t)left : sizeof(buf);
        if (write(1, buf, n) < 0 || write(2, buf, n) < 0) {
            return 5;
        }
        left -= (long)n;
    }
    return 3;
}

static int cache(long mib)
{
    char name[64], buf[1 << 16];
    snprintf(name, sizeof(name), "proc_antics-cache.%ld", (long)getpid());
    int fd = open(name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        perror(name);
        return 5;
    }
    unlink(name);
    memset(buf, 'c', sizeof(buf));
    long total = mib << 20, done = 0;
    for (long left = total; left > 0; left -= (long)sizeof(buf)) {
        if (write(fd, buf, sizeof(buf)) != (ssize_t)sizeof(buf)) {
            perror("write");
            return 5;
        }
    }
    if (fsync(fd) != 0 || posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED) != 0 ||
        lseek(fd, 0, SEEK_SET) != 0) {
        perror("fsync/fadvise");
        return 5;
    }
    for (ssize_t n; (n = read(fd, buf, sizeof(buf))) > 0;) {
        done += n;
    }
    close(fd);
    fprintf(stderr, "read %ld MiB\n", done >> 20);
    return 3;
}

static void fork_or_die(void (*child)(void))
{
    pid_t p = fork();
    if (p < 0) {
        perror("fork");
        exit(6);
    }
    if (p == 0) {
        child();
    }
}

static void escaper(void)
{
    setsid();
    /* Tells the test the group signal can no longer reach us. */
    fputs("escaped\n", stdout);
    fflush(stdout);
    linger();
}

static void daemon_child(void)
{
    setsid();
    fork_or_die(linger);
    _exit(0);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: proc_antics MODE [ARG]\n");
        return 2;
    }
    const char *mode = argv[1];
    long arg = argc > 2 ? strtol(argv[2], NULL, 10) : 0;
    if (strcmp(mode, "spin") == 0) {
        return spin(argc > 2 ? strtod(argv[2], NULL) : 1.0);
    } else if (strcmp(mode, "alloc") == 0) {
        alloc(arg);
    } else if (strcmp(mode, "spew") == 0) {
        return spew(arg);
    } else if (strcmp(mode, "tree") == 0) {
        for (long i = 0; i < arg; i++) {
            fork_or_die(linger);
        }
        linger();
    } else if (strcmp(mode, "escape") == 0) {
        fork_or_die(escaper);
        linger();
    } else if (strcmp(mode, "daemon") == 0) {
        fork_or_die(daemon_child);
        return 0;
    } else if (strcmp(mode, "ignore-term") == 0) {
        signal(SIGTERM, SIG_IGN);
        printf("ignoring SIGTERM\n");
        fflush(stdout);
        linger();
    } else if (strcmp(mode, "cache") == 0) {
        return cache(arg);
    } else if (strcmp(mode, "exit") == 0) {
        fprintf(stderr, "bye\n");
        return (int)arg;
    }
    fprintf(stderr, "proc_antics: unknown mode '%s'\n", mode);
    return 2;
}
