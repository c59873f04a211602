#!/bin/sh
# mkman.sh AGENT TEMPLATE [NAME=VALUE...] - print the man page: TEMPLATE with @OPTIONS@ replaced
# by the agent's own `--help` option lines (one .TP entry each; continuation lines joined),
# @SUMMARY@ by its second line, @VERSION@ by `--version`, and each @NAME@ given as NAME=VALUE.
# The --help text in spoa/options.c is the one source of the options: the man page follows it.
set -eu
agent=$1
tmpl=$2
shift 2
help=$("$agent" --help)
version=$("$agent" --version | sed 's/^oauth2-spoa //')
# roff: a backslash is \e, a minus is \-, a line must not start with . or '
opts=$(printf '%s\n' "$help" | awk '
	function esc(s) { gsub(/\\/, "\\e", s); gsub(/-/, "\\-", s); return s }
	function flush() {
		if (opt == "") return
		n = split(opt, w, " ")
		out = ""
		for (i = 1; i <= n; i++) {
			if (w[i] ~ /^-/) { sub(/,$/, "", w[i]); out = out (out == "" ? "" : ", ") "\\fB" esc(w[i]) "\\fR" }
			else out = out " \\fI" esc(w[i]) "\\fR"
		}
		print ".TP"
		print out
		d = esc(desc)
		sub(/^[.\047]/, "\\\\\\&&", d)
		print d
		opt = ""
	}
	/^  +-/ {
		flush()
		s = $0; sub(/^ +/, "", s)
		i = index(s, "  ")
		if (i == 0) { opt = s; desc = "" } else { opt = substr(s, 1, i - 1); desc = substr(s, i); sub(/^ +/, "", desc) }
		next
	}
	/^      +[^ -]/ && opt != "" { s = $0; sub(/^ +/, "", s); desc = desc " " s; next }
	{ flush() }
	END { flush() }')
[ -n "$opts" ] || { echo "mkman.sh: no option lines in '$agent --help'" >&2; exit 1; }
summary=$(printf '%s\n' "$help" | sed -n 2p | sed 's/-/\\-/g')
date=$(date -u -d "@${SOURCE_DATE_EPOCH:-$(date +%s)}" +%Y-%m-%d 2>/dev/null || date -u +%Y-%m-%d)
OPTS=$opts SUMMARY=$summary VERSION=$version DATE=$date awk '
	BEGIN { for (i = 1; i < ARGC; i++) { split(ARGV[i], kv, "="); v[kv[1]] = substr(ARGV[i], length(kv[1]) + 2) } ARGC = 1 }
	{
		if ($0 == "@OPTIONS@") { print ENVIRON["OPTS"]; next }
		gsub(/@SUMMARY@/, ENVIRON["SUMMARY"]); gsub(/@VERSION@/, ENVIRON["VERSION"]); gsub(/@DATE@/, ENVIRON["DATE"])
		for (k in v) { t = v[k]; gsub(/-/, "\\-", t); gsub("@" k "@", t) }
		if ($0 ~ /@[A-Z]+@/) { print "mkman.sh: unreplaced placeholder: " $0 > "/dev/stderr"; exit 1 }
		print
	}' "$@" <"$tmpl"
