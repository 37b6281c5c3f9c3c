#!/usr/bin/env bash
# Stop the single-node Slurm cluster started by .ci/start-slurm.sh.
set -u
for daemon in slurmd slurmctld munged; do
    pkill -x "$daemon" 2>/dev/null
done
for _ in $(seq 1 20); do
    running=0
    for daemon in slurmd slurmctld munged; do
        pgrep -x "$daemon" >/dev/null && running=1
    done
    [ "$running" = 0 ] && exit 0
    sleep 0.5
done
echo "Slurm daemons still running after 10 s" >&2
exit 1
