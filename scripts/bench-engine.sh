#!/usr/bin/env bash
# The face engine's benchmarks side by side with the reference implementation, in one run, as
# issue 2 asks: ../shared/reference-runner/timing.js (face-api.js on tfjs wasm) on the same seven
# images before and after ours, then the ratios. Run it on an idle machine; it takes ~5 minutes.
#
#   scripts/bench-engine.sh [OUTDIR]      (make bench-engine)
#
# The reference runner is copied to .cache/reference-runner and its npm packages installed there,
# so ../shared stays untouched. Without ../shared the reference part is skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-bench-results/$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$out"
models=${FACECLUSTER_MODELS_DIR:-$PWD/models/node_modules/@vladmandic/face-api/model}
demo=$(dirname "$models")/demo
shared=${FACECLUSTER_SHARED_DIR:-../shared}
images=("$shared/faceapi-testdata/faces.jpg" "$demo"/sample{1,2,3,4,5,6}.jpg)

{ echo "date: $(date -u +%FT%TZ)"; grep -m1 'model name' /proc/cpuinfo; nproc; go version
  grep -o -w -m1 'avx512f\|avx2' /proc/cpuinfo | sort -u | tr '\n' ' '; echo; uptime; } | tee "$out/machine.txt"

reference() {
	[ -d "$shared/reference-runner" ] || { echo "no $shared/reference-runner: reference skipped" >&2; return; }
	local dir=.cache/reference-runner
	if [ ! -d "$dir/node_modules" ]; then
		mkdir -p "$dir" && cp "$shared"/reference-runner/*.js "$shared"/reference-runner/package*.json "$dir"/
		(cd "$dir" && npm install --no-audit --no-fund --loglevel=error >/dev/null)
	fi
	node "$dir/timing.js" "${images[@]}"
}

reference | tee "$out/reference-before.txt"
bench() { go test -run '^$' -count 1 "$@"; }
{
	bench -bench 'Descriptor|Landmarks|Pipeline$|Throughput|EngineMemory' -benchtime 20x ./engine/face/
	bench -bench 'SSD|Tiny416' -benchtime 30x ./engine/face/internal/nets/
	bench -bench 'Search' ./gallery/
} 2>&1 | tee "$out/go.txt"
reference | tee "$out/reference-after.txt"

# Ratios: the reference's mean per image and per descriptor over both of its runs, against ours.
awk '
	FILENAME ~ /reference/ && /mean_ms_per_image/ {
		for (i = 1; i <= NF; i++) { split($i, kv, "="); if (kv[1] == "mean_ms_per_image") { rimg += kv[2]; nr++ } if (kv[1] == "descriptor_ms") rdesc += kv[2] }
	}
	FILENAME ~ /go.txt/ && /^BenchmarkDescriptor-/ { desc = $3 / 1e6 }
	FILENAME ~ /go.txt/ && /^BenchmarkPipeline\// { pipe += $3 / 1e6; np++ }
	END {
		if (!nr) exit
		rimg /= nr; rdesc /= nr; pipe /= np
		printf "reference: %.1f ms per image, %.1f ms per descriptor (mean of %d runs)\n", rimg, rdesc, nr
		printf "facecluster: %.1f ms per image (mean over %d), %.2f ms per descriptor\n", pipe, np, desc
		printf "ratio: pipeline %.1fx, descriptor %.1fx\n", rimg / pipe, rdesc / desc
	}' "$out"/reference-*.txt "$out/go.txt" | tee "$out/ratios.txt"
