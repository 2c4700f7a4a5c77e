# Shared by the tests that run cluster processes in network namespaces
# (cluster_netns.sh, etcd_netns.sh): each member in a namespace of its own,
# joined by veth pairs to a bridge in one more namespace, so that nothing
# of this machine's own network is touched.
#
# netns_usable PREFIX: whether namespaces can be made here (root, ip netns).
# netns_up PREFIX MEMBER...: the network, with addr[MEMBER] (an IPv4
#   address in one /24, set by the caller) on each member's side; sets tag,
#   tmp and pids, and on exit kills every process in pids and in the
#   namespaces, then removes them. False (having said why) on failure.
# in_ns MEMBER CMD...: run CMD in the member's namespace.
# netns_stop: SIGTERM to every process in pids, each given 10 s to exit;
#   sets stuck (how many did not) and left (processes still running in
#   the namespaces).
# until_true SECONDS CMD...: poll every 0.1 s; ms_since T0_NS.
# The caller defines ok and bad.

netns_usable() {
    [ "$(id -u)" -eq 0 ] && command -v ip >/dev/null && ip netns add "$1-probe-$$" 2>/dev/null &&
        ip netns del "$1-probe-$$"
}

netns_up() {
    netns_prefix=$1
    shift
    netns_members=("$@")
    tag=$$
    tmp=$(mktemp -d)
    pids=()
    trap netns_cleanup EXIT
    local lan=$netns_prefix-lan-$tag n ns
    ip netns add "$lan" && ip -n "$lan" link add br0 type bridge && ip -n "$lan" link set br0 up &&
        ip -n "$lan" link set lo up || { bad "network" "cannot make the bridge"; return 1; }
    for n in "${netns_members[@]}"; do
        ns=$netns_prefix-$n-$tag
        ip netns add "$ns" &&
            ip link add "${netns_prefix}a$n$tag" type veth peer name "${netns_prefix}b$n$tag" &&
            ip link set "${netns_prefix}a$n$tag" netns "$lan" &&
            ip -n "$lan" link set "${netns_prefix}a$n$tag" master br0 up &&
            ip link set "${netns_prefix}b$n$tag" netns "$ns" &&
            ip -n "$ns" addr add "${addr[$n]}/24" dev "${netns_prefix}b$n$tag" &&
            ip -n "$ns" link set "${netns_prefix}b$n$tag" up && ip -n "$ns" link set lo up ||
            { bad "network" "cannot make namespace $ns"; return 1; }
    done
}

netns_cleanup() {
    local p n
    for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; done
    # Anything still running in the namespaces (a replica) goes too.
    for n in "${netns_members[@]}"; do
        ip netns pids "$netns_prefix-$n-$tag" 2>/dev/null | xargs -r kill -KILL 2>/dev/null
    done
    sleep 0.2
    for n in "${netns_members[@]}"; do ip netns del "$netns_prefix-$n-$tag" 2>/dev/null; done
    ip netns del "$netns_prefix-lan-$tag" 2>/dev/null
    rm -rf "$tmp"
}

netns_stop() {
    local p n
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
    stuck=0
    for p in "${pids[@]}"; do
        for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -0 "$p" 2>/dev/null && stuck=$((stuck + 1))
    done
    left=$(for n in "${netns_members[@]}"; do ip netns pids "$netns_prefix-$n-$tag" 2>/dev/null; done | wc -l)
}

in_ns() { local n=$1; shift; ip netns exec "$netns_prefix-$n-$tag" "$@"; }
until_true() {
    local deadline=$(($(date +%s%N) + $1 * 1000000000))
    shift
    while [ "$(date +%s%N)" -lt $deadline ]; do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
    return 1
}
ms_since() { echo $((($(date +%s%N) - $1) / 1000000)); }
