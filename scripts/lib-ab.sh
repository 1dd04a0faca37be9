# Shared by the A/B benchmark scripts (bench-barrier.sh, bench-cluster-ab.sh):
# one git worktree and one three-node cluster (its own scripts/cluster.sh
# up) per build, old = commit $OLD and new = HEAD, or HEAD alone when OLD is
# empty; s4load built into $W. Source it from the repository root with OLD
# set; it sets ROOT, W and builds (old new, or new), starts the clusters on
# free-ish ports, and stops them and removes the worktrees on exit.
ROOT=$(pwd)
W=$(mktemp -d)
builds=(new)
[ -z "$OLD" ] || builds=(old new)
[ -z "$OLD" ] || git -C "$ROOT" worktree add -q "$W/old" "$OLD"
git -C "$ROOT" worktree add -q "$W/new" HEAD
(cd "$ROOT" && go build -o "$W/s4load" ./cmd/s4load)
AB_PORT=$((21000 + RANDOM % 5000))

# ab_base BUILD: the cluster's first HTTPS port (its cluster ports are +10).
ab_base() { if [ "$1" = old ]; then echo "$AB_PORT"; else echo $((AB_PORT + 100)); fi; }

# ab_cluster BUILD CMD: scripts/cluster.sh CMD for that build's cluster.
ab_cluster() {
  (cd "$W/$1" && S4_CLUSTER_DIR=$W/c-$1 S4_BASE_PORT=$(ab_base "$1") \
    S4_CLUSTER_BASE_PORT=$(( $(ab_base "$1") + 10 )) scripts/cluster.sh "$2" >/dev/null)
}

ab_cleanup() {
  for v in "${builds[@]}"; do
    ab_cluster "$v" down || true
    git -C "$ROOT" worktree remove --force "$W/$v"
  done
  rm -rf "$W"
}
trap ab_cleanup EXIT
for v in "${builds[@]}"; do ab_cluster "$v" up; done
