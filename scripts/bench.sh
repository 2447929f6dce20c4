#!/usr/bin/env bash
# Wall time (median and worst of RUNS) and peak RSS of a full `vigie check`
# on this machine, and the binary's size.
set -euo pipefail
bin=${1:-bin/vigie}
runs=${RUNS:-20}
[ -x /usr/bin/time ] || { echo "bench: /usr/bin/time is missing (apt-get install time)" >&2; exit 1; }
times=()
rss=0
for _ in $(seq "$runs"); do
  start=$(date +%s%N)
  /usr/bin/time -f '%M' -o /tmp/vigie-bench.rss "$bin" check --json >/dev/null 2>&1 || true
  end=$(date +%s%N)
  times+=($(( (end - start) / 1000 )))
  r=$(tail -n1 /tmp/vigie-bench.rss)
  (( r > rss )) && rss=$r
done
sorted=($(printf '%s\n' "${times[@]}" | sort -n))
median=${sorted[$(( runs / 2 ))]}
worst=${sorted[$(( runs - 1 ))]}
size=$(stat -c %s "$bin")
printf 'vigie check (all areas), %d runs: median %d.%03d ms, worst %d.%03d ms, peak RSS %d KiB, binary %d KiB\n' \
  "$runs" $((median/1000)) $((median%1000)) $((worst/1000)) $((worst%1000)) "$rss" $((size/1024))
