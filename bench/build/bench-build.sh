#!/bin/sh
# bench-build: how long `sagekit build` takes for a project `sagekit init`
# wrote, cold and after changes, and how large the images are.
#
# Each template is built twice over, side by side in the same run: with
# the default path (--via auto: sagekit assembles COPY-only Dockerfiles
# itself and loads only the new layers) and with BuildKit alone
# (--via buildkit), each in a fresh project with its own caches.
#
#   cold      first build: --no-cache, an empty sagekit layer cache and,
#             for go, an empty Go build cache, as on a fresh machine whose
#             base images are already local
#   no-op     the same build again, nothing changed
#   one-line  a rebuild after changing one line of the algorithm's code
#   no-cache  --no-cache again, the Go build cache now warm: the image
#             pipeline alone, without compiling the SDK
#
# The python template's size is compared with the same predictor served by
# nginx + gunicorn + Flask from Debian's packages on the same base
# (reference-nginx-flask/; its RUN apt-get needs Debian's mirror).
#
# Usage: sh bench/build/bench-build.sh   (after make build; needs the
# Docker Engine and sagekit/python:bookworm from `sagekit base`)
# BENCH_TEMPLATES="python" times one template; BENCH_SIZES=0 skips the size
# table (and the nginx reference build).
set -eu

root=$(cd "$(dirname "$0")/../.." && pwd)
sagekit=${SAGEKIT:-$root/bin/sagekit}
work=$(mktemp -d)
images=""
cleanup() {
	for img in $images; do docker image rm -f "$img" >/dev/null 2>&1 || true; done
	rm -rf "$work"
}
trap cleanup EXIT INT TERM

now() { date +%s%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b - a) / 1e9 }'; }
mb() { awk -v s="$1" 'BEGIN { printf "%.1f", s / 1e6 }'; }
size() { docker image inspect -f '{{.Size}}' "$1"; }

# build DIR TAG [ARGS...]: build quietly, print the seconds it took.
build() {
	dir=$1 tag=$2
	shift 2
	t0=$(now)
	"$sagekit" build --progress quiet -t "$tag" "$@" "$dir" >"$work/build.log" 2>&1 || {
		cat "$work/build.log" >&2
		exit 1
	}
	secs "$t0" "$(now)"
}

if ! docker image inspect sagekit/python:bookworm >/dev/null 2>&1; then
	echo "bench-build: sagekit/python:bookworm is not in the local image store: run sagekit base first" >&2
	exit 1
fi

printf '| template | path | cold build (s) | no-op rebuild (s) | one-line change (s) | cold / one-line | --no-cache, Go cache warm (s) | image size (MB) |\n'
printf '|---|---|---|---|---|---|---|---|\n'

# The change carries a nonce: content BuildKit has seen in an earlier run
# would come from its cache and time nothing.
nonce=$(date +%s%N)
for tmpl in ${BENCH_TEMPLATES:-go python}; do
	for via in auto buildkit; do
		dir=$work/$tmpl-$via
		tag=sagekit-bench/$tmpl-$via:latest
		images="$images $tag"
		case $tmpl in
		go)
			"$sagekit" init "$dir" --template go --name bench-go --sdk "$root" >/dev/null
			file=$dir/tree/serve.go
			from='this model reads text/csv, not %q'
			to="this model reads only text/csv ($nonce $via), not %q"
			;;
		python)
			"$sagekit" init "$dir" --template python --name bench-python >/dev/null
			file=$dir/code/inference.py
			from='Invoked with'
			to="Called ($nonce $via) with"
			;;
		esac
		export GOCACHE="$work/gocache-$tmpl-$via" XDG_CACHE_HOME="$work/cache-$tmpl-$via"
		cold=$(build "$dir" "$tag" --via "$via" --no-cache)
		noop=$(build "$dir" "$tag" --via "$via")
		sed -i "s|$from|$to|" "$file"
		grep -qF "$to" "$file" || { echo "bench-build: the one-line change did not apply to $file" >&2; exit 1; }
		change=$(build "$dir" "$tag" --via "$via")
		# The path the one-line rebuild took, as `sagekit build` reports it.
		ran=$(sed -n 's/^via //p' "$work/build.log")
		warm=$(build "$dir" "$tag" --via "$via" --no-cache)
		ratio=$(awk -v a="$cold" -v b="$change" 'BEGIN { printf "%.1fx", a / b }')
		case $via in
		auto) path="default (--via auto: $ran)" ;;
		*) path="BuildKit only (--via buildkit)" ;;
		esac
		printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "$tmpl" "$path" "$cold" "$noop" "$change" "$ratio" "$warm" "$(mb "$(size "$tag")")"
		unset GOCACHE XDG_CACHE_HOME
	done
done

[ "${BENCH_SIZES:-1}" = 1 ] || exit 0
ref=sagekit-bench/nginx-gunicorn-flask:latest
images="$images $ref"
build "$root/bench/build/reference-nginx-flask" "$ref" >/dev/null
printf '\n| image | size (MB) |\n|---|---|\n'
printf '| sagekit/python:bookworm (the base) | %s |\n' "$(mb "$(size sagekit/python:bookworm)")"
printf '| python template (sagekit-runtime) | %s |\n' "$(mb "$(size sagekit-bench/python-auto:latest)")"
printf '| same predictor, nginx + gunicorn + Flask | %s |\n' "$(mb "$(size "$ref")")"
printf '| go template (FROM scratch) | %s |\n' "$(mb "$(size sagekit-bench/go-auto:latest)")"
