/* SPDX-License-Identifier: Apache-2.0 */
/* The functions STYLE.md bans, poisoned (as git's banned.h does): a call to one fails to
 * compile with an error naming it, e.g. "sorry_strcpy_is_a_banned_function" undeclared. Each is
 * unbounded, not reentrant, hides a shell, or races on a temporary name; use snprintf/mp_buf,
 * strtok_r or a parser, mp_parse_int64/mp_parse_double, gmtime_r/localtime_r, mkstemp/mkdtemp,
 * and fork/exec with an explicit argv instead. VLAs are refused by -Wvla.
 *
 * core.h includes this last, so every file of the project sees it. The system headers that
 * declare these functions are included here first: a header read after the macros below would
 * otherwise have its own declarations rewritten. */
#ifndef MP_BANNED_H
#define MP_BANNED_H

#include <alloca.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MP_BANNED(func) sorry_##func##_is_a_banned_function

#undef strcpy
#define strcpy(...) MP_BANNED(strcpy)
#undef strcat
#define strcat(...) MP_BANNED(strcat)
#undef sprintf
#define sprintf(...) MP_BANNED(sprintf)
#undef vsprintf
#define vsprintf(...) MP_BANNED(vsprintf)
#undef strtok
#define strtok(...) MP_BANNED(strtok)
#undef atoi
#define atoi(...) MP_BANNED(atoi)
#undef atof
#define atof(...) MP_BANNED(atof)
#undef gets
#define gets(...) MP_BANNED(gets)
#undef system
#define system(...) MP_BANNED(system)
#undef popen
#define popen(...) MP_BANNED(popen)
#undef gmtime
#define gmtime(...) MP_BANNED(gmtime)
#undef localtime
#define localtime(...) MP_BANNED(localtime)
#undef mktemp
#define mktemp(...) MP_BANNED(mktemp)
#undef alloca
#define alloca(...) MP_BANNED(alloca)

#endif
