# SPDX-License-Identifier: Apache-2.0
# Converts one of the project's Markdown pages (the subset docs/ uses: headings, paragraphs,
# fenced code, pipe tables, bullet lists, `code`, **bold**, [links](url)) to a man page, so that
# morphling-spec(5) is docs/spec.md and cannot drift from it.
#   awk -v name=morphling-spec -v section=5 -v version=0.1.0 \
#       -v title='the experiment spec format' -f scripts/md2man.awk docs/spec.md

# Backslashes, and the few non-ASCII characters the pages use as troff escapes.
function esc(s) {
    gsub(/\\/, "\\e", s)
    gsub(/—/, "\\(em", s)
    gsub(/–/, "\\(en", s)
    gsub(/…/, "...", s)
    return s
}

# Inline markup of one line of text.
function inline(s,    out, pre, code, i, j, text) {
    s = esc(s)
    out = ""
    while ((i = index(s, "`")) > 0) {
        pre = substr(s, 1, i - 1)
        s = substr(s, i + 1)
        j = index(s, "`")
        if (j == 0) {
            s = "`" s
            break
        }
        code = substr(s, 1, j - 1)
        s = substr(s, j + 1)
        gsub(/-/, "\\-", code)
        out = out prose(pre) "\\fB" code "\\fR"
    }
    return out prose(s)
}

function prose(s,    text) {
    while (match(s, /\[[^]]*\]\([^)]*\)/)) {
        text = substr(s, RSTART + 1, RLENGTH - 1)
        sub(/\]\(.*/, "", text)
        s = substr(s, 1, RSTART - 1) text substr(s, RSTART + RLENGTH)
    }
    while (match(s, /\*\*[^*]+\*\*/)) {
        s = substr(s, 1, RSTART - 1) "\\fB" substr(s, RSTART + 2, RLENGTH - 4) "\\fR" \
            substr(s, RSTART + RLENGTH)
    }
    return s
}

# Lines of output text: a leading '.' or '\'' would be a request.
function emit(s,    n, lines, i) {
    n = split(s, lines, "\n")
    for (i = 1; i <= n; i++) {
        if (lines[i] ~ /^[.']/) {
            lines[i] = "\\&" lines[i]
        }
        print lines[i]
    }
}

# A paragraph's inline markup is read from all its lines at once: a `code` span may go on to the
# next line (it printed its backticks).
function flush_para() {
    if (para != "") {
        print para_item ? ".IP \\(bu 2" : ".PP"
        emit(inline(para))
        para = ""
        para_item = 0
    }
}

function cells(line, arr,    n, i) {
    sub(/^[ \t]*\|/, "", line)
    sub(/\|[ \t]*$/, "", line)
    # A \| inside a cell is a literal bar.
    gsub(/\\\|/, "\001", line)
    n = split(line, arr, "|")
    for (i = 1; i <= n; i++) {
        gsub(/\001/, "|", arr[i])
        gsub(/^[ \t]+|[ \t]+$/, "", arr[i])
    }
    return n
}

function table_row(line,    n, c, i, body) {
    n = cells(line, c)
    if (!have_header) {
        for (i = 1; i <= n; i++) {
            header[i] = c[i]
        }
        have_header = 1
        return
    }
    if (c[1] ~ /^-+$/) {
        return
    }
    print ".TP"
    emit(inline(c[1]))
    body = inline(c[2])
    for (i = 3; i <= n; i++) {
        if (c[i] != "") {
            body = body " (" inline(header[i]) ": " inline(c[i]) ")"
        }
    }
    emit(body)
}

BEGIN {
    printf ".\\\" Generated from Markdown by scripts/md2man.awk; edit the Markdown page instead.\n"
    printf ".TH %s %s \"\" \"morphling %s\" \"%s\"\n", toupper(name), section, version,
        section == 5 ? "File Formats" : "User Commands"
    printf ".SH NAME\n%s \\- %s\n.SH DESCRIPTION\n", name, title
    in_code = 0
    in_table = 0
    para = ""
}

/^```/ {
    if (!in_code) {
        flush_para()
        print ".PP\n.RS 4\n.nf"
        in_code = 1
    } else {
        print ".fi\n.RE"
        in_code = 0
    }
    next
}

in_code {
    line = esc($0)
    emit(line)
    next
}

/^[ \t]*\|/ {
    if (!in_table) {
        flush_para()
        in_table = 1
        have_header = 0
    }
    table_row($0)
    next
}

{
    if (in_table) {
        in_table = 0
        print ".PP"
    }
}

/^# / {
    next
}

/^## / {
    flush_para()
    h = substr($0, 4)
    printf ".SH \"%s\"\n", toupper(inline(h))
    next
}

/^### / {
    flush_para()
    printf ".SS \"%s\"\n", inline(substr($0, 5))
    next
}

/^[ \t]*$/ {
    flush_para()
    next
}

/^- / {
    flush_para()
    para = substr($0, 3)
    para_item = 1
    next
}

{
    line = $0
    sub(/^[ \t]+/, "", line)
    para = para == "" ? line : para "\n" line
}

END {
    flush_para()
    printf ".SH \"SEE ALSO\"\n.BR morphling (1)\n"
}
