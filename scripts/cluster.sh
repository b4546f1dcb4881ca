# Sourced by the scripts that need a PostgreSQL cluster of their own: a throwaway cluster in a
# directory of target/, on its own port, run as the postgres user (PostgreSQL refuses root).
# cluster_start DIR PORT [extra postgresql.conf lines] makes a new one; cluster_resume DIR starts
# an existing one; cluster_stop DIR.

CLUSTER_SOCK=/var/run/postgresql
CLUSTER_BIN="$(/usr/bin/pg_config --bindir)"

as_pg() { runuser -u postgres -- "$@"; }

cluster_stop() {
    [[ -f $1/postmaster.pid ]] && as_pg "$CLUSTER_BIN/pg_ctl" -D "$1" stop -m fast >/dev/null 2>&1 || true
}

# Starts the cluster already in DIR, stopping it first if it runs.
cluster_resume() {
    cluster_stop "$1"
    as_pg "$CLUSTER_BIN/pg_ctl" -D "$1" -l "$1/server.log" -w start >/dev/null
}

cluster_start() {
    local dir=$1 port=$2 extra=${3:-}
    cluster_stop "$dir"
    rm -rf "$dir"
    install -d -o postgres -g postgres "$dir"
    # Debian makes the socket directory when a cluster of its own starts; a fresh machine may not have.
    [[ -d $CLUSTER_SOCK ]] || install -d -o postgres -g postgres -m 2775 "$CLUSTER_SOCK"
    as_pg "$CLUSTER_BIN/initdb" -D "$dir" -A trust --locale=C.UTF-8 >/dev/null
    printf "port = %s\nlisten_addresses = ''\nunix_socket_directories = '%s'\n%s\n" \
        "$port" "$CLUSTER_SOCK" "$extra" >>"$dir/postgresql.conf"
    cluster_resume "$dir"
}
