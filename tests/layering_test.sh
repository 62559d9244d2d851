#!/usr/bin/env bash
# The layers, checked on the includes (quoted includes name our files by their directory):
#   base/     includes nothing of ours outside base/, and no libtorch, gRPC or protobuf;
#   engine/   includes no gRPC and nothing of rpc/, server/, trainer/ or client/;
#   rpc/      includes nothing of engine/;
#   server/, trainer/, rpc/, base/ include nothing of client/.
# Usage: layering_test.sh [SOURCE_DIR]    checks the tree (default: this script's repository)
#        layering_test.sh --self-test     plants one violation per rule in a scratch tree and
#                                         checks that each is reported
set -uo pipefail

check_tree() {
  local root=$1 failed=0
  rule() {  # DESCRIPTION PCRE DIR...
    local what=$1 pattern=$2
    shift 2
    local hits
    hits=$(cd "$root" && grep -rnP --include='*.h' --include='*.cc' --include='*.cu' --include='*.cuh' \
      "$pattern" "$@" 2>/dev/null)
    if [ -n "$hits" ]; then
      echo "FAIL $what:"
      echo "$hits" | sed 's/^/    /'
      failed=1
    else
      echo "ok   $what"
    fi
  }
  local inc='^\s*#\s*include\s*'
  rule "base/ includes only base/" "$inc\"(?!base/)" base
  rule "base/ uses no libtorch, gRPC or protobuf" "$inc<(torch/|ATen/|c10/|grpc|google/protobuf/)" base
  rule "engine/ includes no gRPC" "$inc[<\"](grpc|grpcpp|grpc\+\+)/|$inc\".*\.grpc\.pb\.h\"" engine
  rule "engine/ includes nothing of rpc/, server/, trainer/, client/" "$inc\"(rpc|server|trainer|client)/" engine
  rule "rpc/ includes nothing of engine/" "$inc\"engine/" rpc
  rule "server/, trainer/, rpc/, base/ include nothing of client/" "$inc\"client/" server trainer rpc base
  return $failed
}

self_test() {
  local scratch
  scratch=$(mktemp -d)
  trap 'rm -rf "$scratch"' RETURN
  mkdir -p "$scratch"/{base,engine,rpc,server,trainer,client}
  check_tree "$scratch" >/dev/null || { echo "FAIL an empty tree is reported"; return 1; }
  local -a planted=(
    'base/a.h|#include "engine/model.h"'
    'base/b.cc|#include <torch/torch.h>'
    'engine/c.cc|#include <grpcpp/grpcpp.h>'
    'engine/d.cc|#include "medgemma/v1/classifier.grpc.pb.h"'
    'engine/e.h|#include "rpc/auth.h"'
    'rpc/f.cc|#include "engine/task.h"'
    'trainer/g.cc|  #  include "client/demo_data.h"'
  )
  local entry file line status=0
  for entry in "${planted[@]}"; do
    file=${entry%%|*}
    line=${entry#*|}
    printf '%s\n' "$line" > "$scratch/$file"
    if check_tree "$scratch" >/dev/null; then
      echo "FAIL not reported: $file: $line"
      status=1
    else
      echo "ok   reported: $file: $line"
    fi
    rm "$scratch/$file"
  done
  return $status
}

if [ "${1:-}" = "--self-test" ]; then
  self_test
else
  check_tree "${1:-$(cd "$(dirname "$0")/.." && pwd)}"
fi
