#!/usr/bin/env bash
# Fetches the 972 face-free photos on which docs/benchmarks.md ("Detection recall") counts false
# faces: shoes and trousers laid out on floors and beds (alexeygrigorev/clothing-dataset-small)
# and landscape and city wallpapers (Incalculas/wallpapers), at the commits and paths listed in
# scripts/facefree-photos.txt. The photos are not ours to ship: they stay outside the repository.
#
#   scripts/facefree-photos.sh OUTDIR
#
# OUTDIR/clothing/<split>_<class>_<file> and OUTDIR/landscape/<file>, then count the faces the
# detector finds in them (one line per face):
#
#   facecluster detect --detector ssd-raw --cpus 0 OUTDIR | wc -l
#   facecluster detect --cpus 0 OUTDIR | wc -l
set -euo pipefail
out=${1:?usage: scripts/facefree-photos.sh OUTDIR}
base=${FACEFREE_GIT_BASE:-https://github.com} # another host with the same repositories, for a mirror
list=$(cd "$(dirname "$0")" && pwd)/facefree-photos.txt
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$out/clothing" "$out/landscape"
grep -v '^#' "$list" | awk '{print $1, $2}' | sort -u | while read -r repo commit; do
	dir=$work/${repo//\//+}
	git init -q "$dir"
	git -C "$dir" fetch -q --depth 1 "$base/$repo" "$commit"
	grep -v '^#' "$list" | awk -v r="$repo" '$1 == r {print $3}' | while read -r path; do
		case $repo in
		*clothing*) dest=$out/clothing/${path//\//_} ;;
		*) dest=$out/landscape/$(basename "$path") ;;
		esac
		git -C "$dir" show "$commit:$path" >"$dest"
	done
done
echo "$(find "$out" -type f | wc -l) photos in $out"
