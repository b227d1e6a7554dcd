#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Help, man pages and bash completion are generated from the option tables: every option of every
# verb (as `help --json` lists the tables) appears in `VERB --help`, `help VERB`, morphling(1) and
# the completion script; mistyped verbs and options get a suggestion; the completion completes;
# morphling-spec(5) documents every key the spec loader accepts; `cmake --install` installs it all.
. "$(dirname "$0")/lib.sh"
: "${MP_BUILD_DIR:?MP_BUILD_DIR must point to the build folder}"
man1="$MP_BUILD_DIR/man/morphling.1"
man5="$MP_BUILD_DIR/man/morphling-spec.5"
completion="$MP_BUILD_DIR/completion/morphling"

"$MORPHLING" help --json >"$WORK/tables.json"
check "help --json exits 0" 0 "$?"
verbs=$(jq -r '.verbs[].name | gsub(" "; ":")' "$WORK/tables.json")
check "help --json lists the verbs" 16 "$(printf '%s\n' $verbs | wc -l)"

missing=""
for v in $verbs; do
    verb=$(printf '%s' "$v" | tr ':' ' ')
    # shellcheck disable=SC2086
    "$MORPHLING" $verb --help >"$WORK/help.txt" 2>"$WORK/help.err" || missing="$missing [$verb --help exit $?]"
    # shellcheck disable=SC2086
    "$MORPHLING" help $verb >"$WORK/help2.txt" || missing="$missing [help $verb]"
    cmp -s "$WORK/help.txt" "$WORK/help2.txt" || missing="$missing [help $verb differs]"
    [ -s "$WORK/help.err" ] && missing="$missing [$verb --help wrote to stderr]"
    case "$verb" in meta) continue ;; esac
    # The verb's arm of the completion script: its opts line.
    opts=$(awk -v v="    \"$verb\")" '$0 == v { getline; print; exit }' "$completion")
    [ -n "$opts" ] || missing="$missing [no completion arm for $verb]"
    # The verb's section of the man page: from its .SS to the next .SS.
    man_verb=$(printf '%s' "$verb" | sed 's/-/\\\\-/g')
    awk -v v=".SS \"morphling $man_verb" 'index($0, v) == 1 && (substr($0, length(v) + 1, 1) == " " || substr($0, length(v) + 1, 1) == "\"") { on = 1; next } /^\.SS/ { on = 0 } on' \
        "$man1" >"$WORK/man-section"
    [ -s "$WORK/man-section" ] || missing="$missing [no man section for $verb]"
    for o in $(jq -r --arg v "$verb" '.verbs[] | select(.name == $v) | .options[] | .name' "$WORK/tables.json"); do
        grep -q -- "--$o\\b" "$WORK/help.txt" || missing="$missing [$verb --help lacks --$o]"
        case " $opts " in *" --$o "* | *" --$o\""*) ;; *) missing="$missing [completion of $verb lacks --$o]" ;; esac
        man_name=$(printf '%s' "$o" | sed 's/-/\\\\-/g')
        grep -q -- "\\\\-\\\\-$man_name" "$WORK/man-section" || missing="$missing [man page of $verb lacks --$o]"
    done
done
check "every option in --help, help VERB, the man page and the completion" "" "$missing"

defaults=$(jq -r '.verbs[] | select(.name == "replay") | .options[] | select(.name == "budget") | .default' "$WORK/tables.json")
check "the table's default" 40 "$defaults"
check_contains "--help shows it" "trials to run (default: 40)" "$("$MORPHLING" replay --help)"
# An option whose field holds a "not given" sentinel (load --max-time: -1) has no default to
# show: it read "(default: 0us)", a bound of nothing, where --remeasure has no bound at all.
maxtime=$(jq -r '.verbs[] | select(.name == "load") | .options[] | select(.name == "max-time") | .default' "$WORK/tables.json")
check "load --max-time has no table default" null "$maxtime"
check_contains "load --help gives --remeasure's bound" "must fit in (default: none)" "$("$MORPHLING" load --help | tr -s ' \n' '  ')"
check "no --help shows a negative or zero duration default" "" \
    "$(jq -r '.verbs[] | .name as $v | .options[] | select(.default != null) | select(.default | test("^-|^0(us|ms|s)$")) | "\($v) --\(.name)"' "$WORK/tables.json")"

# Mistakes: a suggestion, exit 2.
err=$("$MORPHLING" valdate x.yaml 2>&1); rc=$?
check "mistyped verb exits 2" 2 "$rc"
check_contains "mistyped verb suggestion" "did you mean 'validate'?" "$err"
err=$("$MORPHLING" meta trian -o m 2>&1); rc=$?
check "mistyped sub-verb exits 2" 2 "$rc"
check_contains "mistyped sub-verb suggestion" "did you mean 'meta train'?" "$err"
err=$("$MORPHLING" run --restat x.yaml 2>&1); rc=$?
check "mistyped option exits 2" 2 "$rc"
check_contains "mistyped option suggestion" "did you mean '--restart'?" "$err"
# An option of other verbs, given to one without it (a store to a verb that stores nothing): said
# so, not "did you mean '--set'?" (a newcomer who gave --db everywhere).
err=$("$MORPHLING" trial x.yaml --db store.db 2>&1); rc=$?
check "another verb's option exits 2" 2 "$rc"
check "says whose option it is" \
    "morphling trial: unknown option '--db': it is an option of run, list, show, export, meta train and serve" \
    "$(printf '%s\n' "$err" | head -n1)"
err=$("$MORPHLING" validate x.yaml --db=store.db 2>&1)
check_contains "... also written --db=PATH" "unknown option '--db': it is an option of run," "$err"
err=$("$MORPHLING" export demo 2>&1); rc=$?
check "export without --format exits 2" 2 "$rc"
check_contains "export names the formats" "--format csv|json|deploy|k8s is required" "$err"
"$MORPHLING" help run >/dev/null
check "help run exits 0" 0 "$?"
"$MORPHLING" >/dev/null 2>&1
check "no verb exits 2" 2 "$?"

# The man pages are well-formed roff (groff reports no warning).
for page in "$man1" "$man5"; do
    warnings=$(groff -man -Tutf8 -ww -z "$page" 2>&1)
    check "$(basename "$page") renders without warnings" "" "$warnings"
done

# No Markdown is left in its text: a `code` span that went on to the next line printed its
# backticks.
check "morphling-spec(5) shows no Markdown backtick" "" \
    "$(groff -man -Tutf8 "$man5" 2>/dev/null | grep '`' | head -3)"

# morphling-spec(5) is docs/spec.md, and documents every key the spec loader knows: the keys of
# every `keys[] = {...}` table in src/spec and of every runner's settings tables (local, its
# load test, replay, kubernetes).
keys=$( (awk '/(keys|top_keys)\[\] = \{/ { on = 1 } on { print } on && /\};/ { on = 0 }' \
    "$MP_SOURCE_DIR"/src/spec/*.c
    cd "$MP_SOURCE_DIR/src/runner" &&
        grep -ho 'MP_SETTING_KEY("[a-z_]*"' replay.c local_config.c local_load.c kubernetes_config.c) |
    grep -o '"[a-z_]*"' | tr -d '"' | sort -u)
count=$(printf '%s\n' $keys | wc -l)
[ "$count" -ge 40 ]
check "found the spec loader's key tables ($count keys)" 0 "$?"
undocumented=""
for k in $keys; do
    grep -q "[\`.{ ]$k[\`.: =}]" "$MP_SOURCE_DIR/docs/spec.md" || undocumented="$undocumented $k"
    grep -q "$k" "$man5" || undocumented="$undocumented $k(man)"
done
check "docs/spec.md and morphling-spec(5) document every spec key" "" "$undocumented"

# The completion completes (bash, as a user's shell would run it).
complete_words() {
    bash -c '. "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); _morphling; printf "%s\n" "${COMPREPLY[@]}"' \
        sh "$completion" "$@" | sort | tr '\n' ' '
}
check "completes a verb" "validate " "$(complete_words morphling vali)"
check "completes a sub-verb" "train " "$(complete_words morphling meta tr)"
check "completes an option" "--restart " "$(complete_words morphling run --rest)"
check "completes a choice" "csv deploy json k8s " "$(complete_words morphling export demo --format '')"
check "completes a sub-verb's option" "--output " "$(complete_words morphling meta train --outp)"
check "completes help's operand" "bench-search " "$(complete_words morphling help ben)"

# make install: the binary, both man pages and the completion.
cmake --install "$MP_BUILD_DIR" --prefix "$WORK/prefix" >/dev/null
check "cmake --install exits 0" 0 "$?"
for f in bin/morphling share/man/man1/morphling.1 share/man/man5/morphling-spec.5 \
    share/bash-completion/completions/morphling; do
    [ -f "$WORK/prefix/$f" ]
    check "installs $f" 0 "$?"
done
check "the installed binary runs" "morphling $(jq -r .version "$WORK/tables.json")" \
    "$("$WORK/prefix/bin/morphling" version)"
finish
