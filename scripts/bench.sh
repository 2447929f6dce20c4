#!/usr/bin/env bash
# Wall time (median and worst of RUNS) and peak RSS of `vigie check`, for
# every area alone and for all of them, and the binary's size. Peak RSS is
# the largest of vigie and the commands it runs (apt list, sshd -T, nft).
set -euo pipefail
bin=${1:-bin/vigie}
runs=${RUNS:-20}
[ -x /usr/bin/time ] || { echo "bench: /usr/bin/time is missing (apt-get install time)" >&2; exit 1; }
measure() { # measure LABEL ARGS...
  local label=$1; shift
  local times=() rss=0 start end r
  for _ in $(seq "$runs"); do
    start=$(date +%s%N)
    /usr/bin/time -f '%M' -o /tmp/vigie-bench.rss "$bin" check --json "$@" >/dev/null 2>&1 || true
    end=$(date +%s%N)
    times+=($(( (end - start) / 1000 )))
    r=$(tail -n1 /tmp/vigie-bench.rss)
    (( r > rss )) && rss=$r
  done
  local sorted=($(printf '%s\n' "${times[@]}" | sort -n))
  local median=${sorted[$(( runs / 2 ))]} worst=${sorted[$(( runs - 1 ))]}
  awk -v l="$label" -v m="$median" -v w="$worst" -v r="$rss" -v n="$runs" \
    'BEGIN { printf "%-28s median %7.1f ms, worst %7.1f ms, peak RSS %6d KiB (%d runs)\n", l, m/1000, w/1000, r, n }'
}
for area in $("$bin" check --list | cut -d. -f1 | sort -u); do
  measure "vigie check --only $area" --only "$area"
done
measure "vigie check (all areas)"
if command -v apt >/dev/null 2>&1; then
  start=$(date +%s%N); LANG=C apt list --upgradable >/dev/null 2>&1; end=$(date +%s%N)
  awk -v d="$(( (end - start) / 1000 ))" 'BEGIN { printf "%-28s %7.1f ms (the package manager query inside patches)\n", "apt list --upgradable", d/1000 }'
fi
linking=dynamic
file -b "$bin" | grep -q 'statically linked' && linking=static
printf 'binary: %d KiB, %s\n' $(( $(stat -c %s "$bin") / 1024 )) "$linking"
