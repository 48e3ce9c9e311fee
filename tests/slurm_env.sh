#!/usr/bin/env bash
# A private single-node Slurm for the tests: munged, slurmctld and slurmd as root, with
# configuration, state, sockets and logs in one folder and private ports, so it never
# meets a system Slurm. Source it, then:
#     slurm_start DIR     start the daemons; exports SLURM_CONF; waits until the node is idle
#     slurm_stop          stop every daemon slurm_start started, by PID (safe to repeat)
# Needs the slurm-wlm and munge packages (.ci/setup.sh installs them) and root.

SLURM_TEST_PIDS=()

slurm_start() { # dir
    local d=$1 host cpus
    host=$(hostname -s)
    # at least 4 CPUs, so that a job of 1 coordinator and 2 workers fits a 2-core machine
    # as --ntasks-per-node=3 (which --overcommit does not allow beyond the CPU count)
    cpus=$(nproc)
    ((cpus < 4)) && cpus=4
    mkdir -p "$d/state" "$d/spool"
    # munge: a fresh key and a private socket
    dd if=/dev/urandom of="$d/munge.key" bs=1024 count=1 status=none
    chmod 400 "$d/munge.key"
    munged --socket="$d/munge.sock" --key-file="$d/munge.key" --pid-file="$d/munged.pid" \
        --log-file="$d/munged.log" --seed-file="$d/munged.seed" --force || return 1
    SLURM_TEST_PIDS+=("$(cat "$d/munged.pid")")
    cat >"$d/slurm.conf" <<EOF
ClusterName=bpsweeptest
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$d/munge.sock,cred_expire=10
CredType=cred/munge
SlurmctldPort=16817
SlurmdPort=16818
StateSaveLocation=$d/state
SlurmdSpoolDir=$d/spool
SlurmctldPidFile=$d/slurmctld.pid
SlurmdPidFile=$d/slurmd.pid
SlurmctldLogFile=$d/slurmctld.log
SlurmdLogFile=$d/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=none
ReturnToService=2
KillWait=5
SlurmdParameters=config_overrides
JobRequeue=1
NodeName=$host CPUs=$cpus RealMemory=$(($(awk '/MemTotal/ {print $2}' /proc/meminfo) / 2048)) State=UNKNOWN
PartitionName=test Nodes=ALL Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE
EOF
    export SLURM_CONF=$d/slurm.conf
    slurmctld -D -i >"$d/slurmctld.out" 2>&1 &
    SLURM_TEST_PIDS+=($!)
    slurmd -D >"$d/slurmd.out" 2>&1 &
    SLURM_TEST_PIDS+=($!)
    local i
    for ((i = 0; i < 300; i++)); do
        [ "$(sinfo -h -o %t 2>/dev/null)" = idle ] && return 0
        sleep 0.1
    done
    echo "slurm_start: the node did not become idle; logs in $d" >&2
    return 1
}

slurm_stop() {
    local pid i
    for pid in "${SLURM_TEST_PIDS[@]}"; do
        kill "$pid" 2>/dev/null
    done
    for pid in "${SLURM_TEST_PIDS[@]}"; do
        for ((i = 0; i < 50 && $(kill -0 "$pid" 2>/dev/null && echo 1 || echo 0); i++)); do
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null
    done
    SLURM_TEST_PIDS=()
}
