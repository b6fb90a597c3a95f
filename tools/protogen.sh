#!/usr/bin/env bash
# Regenerates the Go code for every proto/**/*.proto, beside each file
# (paths=source_relative), with pinned plugins so every machine produces the
# same bytes.
#
#   tools/protogen.sh          regenerate in place (make proto)
#   tools/protogen.sh --check  fail if the committed code is stale (make test)
set -euo pipefail

# Pinned to the versions of the runtime modules in go.mod.
readonly PROTOC_GEN_GO=google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
readonly PROTOC_GEN_GO_GRPC=google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.6.2

repo=$(cd "$(dirname "$0")/.." && pwd)
tools="$repo/bin/tools"

die() {
	echo "protogen: $*" >&2
	exit 1
}

check=""
case "${1:-}" in
"") ;;
--check) check=yes ;;
*) die "unknown argument $1 (usage: $0 [--check])" ;;
esac

command -v protoc >/dev/null 2>&1 ||
	die "protoc not found: install Debian's protobuf-compiler (tools/install-deps.sh does)"

# ensure_plugin BINARY MODULE@VERSION VERSION-AS-PRINTED installs the plugin
# into bin/tools unless the binary there already reports that version.
ensure_plugin() {
	local bin=$1 pkg=$2 want=$3
	if [ -x "$tools/$bin" ] && [ "$("$tools/$bin" --version 2>/dev/null)" = "$bin $want" ]; then
		return
	fi
	echo "protogen: installing $pkg into $tools" >&2
	GOBIN="$tools" go install "$pkg" || die "cannot install $pkg"
}
ensure_plugin protoc-gen-go "$PROTOC_GEN_GO" "v${PROTOC_GEN_GO##*@v}"
ensure_plugin protoc-gen-go-grpc "$PROTOC_GEN_GO_GRPC" "${PROTOC_GEN_GO_GRPC##*@v}"
export PATH="$tools:$PATH"

cd "$repo/proto"
mapfile -t protos < <(find . -name '*.proto' -printf '%P\n' | LC_ALL=C sort)
[ "${#protos[@]}" -gt 0 ] || die "no .proto files under $repo/proto"

# generate DIR writes the generated code for every proto into DIR.
generate() {
	protoc --proto_path=. \
		--go_out="$1" --go_opt=paths=source_relative \
		--go-grpc_out="$1" --go-grpc_opt=paths=source_relative \
		"${protos[@]}"
}

if [ -z "$check" ]; then
	generate .
	exit 0
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/fresh" "$tmp/committed"
generate "$tmp/fresh"
# Compare only generated files, so a generated file whose .proto is gone
# counts as stale too.
find . -name '*.pb.go' -exec cp --parents {} "$tmp/committed" \;
if ! diff -r "$tmp/committed" "$tmp/fresh" >"$tmp/diff"; then
	sed 's/^/  /' "$tmp/diff" | head -n 40 >&2
	die "generated code is stale: run make proto"
fi
