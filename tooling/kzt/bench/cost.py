"""The bench's headline figure: a modeled time that host load cannot skew.

Under TCG the host's load decides how fast a guest runs, and QEMU's
block throttling runs on the host's clock, so neither the guest's clock
nor the host's can time a run fairly (measured: see README, Benchmarks).
What repeats from run to run are counts.  The headline is therefore

    modeled_seconds = guest CPU busy time + modeled disk time

- guest CPU busy time: the busy jiffies of /proc/stat over the workload
  (user, nice, system, irq, softirq, steal: not idle, not iowait), with
  the guest's clock instruction-counted (`--clock icount`: QEMU -icount
  shift=0, one vCPU), i.e. the CPU work of the program, of kswapd and of
  the compressor, priced at 1 ns per instruction, on QEMU's "max" CPU
  without ERMS and FSRM (vm.BENCH_CPU): with them the kernel clears and
  copies with `rep stosb`/`movsb`, whose every byte counts as an
  instruction;
- modeled disk time: the requests and bytes the guest's disks completed
  (/proc/diskstats, all test disks together), priced at the run's disk
  profile as one device of that profile would take them:
  max(requests / IOPS, bytes / bandwidth).

Under -icount the disks are not throttled (workrun.throttled()): the
guest sees the host's page cache, and the profile only prices what it
did.  A throttle on the host's clock made the guest's behaviour follow
the host's load (kztmem's requests fell 13% under `stress-ng --cpu 2`),
and the guest runs at a raised priority for the same reason
(loop.GUEST_NICE).  So the model prices the I/O a configuration does
against a fast disk; one that would do more I/O on a slow one (e.g.
declining more stores while its writeback waits) is not charged for it.

Every configuration is priced by the same rule from what it did: plain
swap pays for its I/O, a compressed store for its CPU and the I/O it did
not avoid.  The model leaves out overlap of CPU work with I/O (a real
machine writes back while it computes) and queueing; it orders the work
done, it does not predict a machine's seconds.  The guest-clock time and
the host's wall time of the workload stay beside it in every record.
"""
from __future__ import annotations

from ..datafiles import DiskProfile

HEADLINE = "modeled_seconds"
HEADLINE_LABEL = "modeled time: guest CPU (instruction-counted) + disk time at the profile"
DEFINITION = ("guest CPU busy seconds over the workload (/proc/stat, not idle or iowait; "
              "instruction-counted under --clock icount: 1 ns per instruction, on a CPU "
              "without ERMS/FSRM) + disk time "
              "of the requests and bytes the test disks completed (/proc/diskstats), priced "
              "as one device of the run's disk profile: max(requests / IOPS, bytes / "
              "bandwidth); CPU and I/O are not overlapped; under -icount the disks are "
              "not throttled, the profile only prices")


def disk_seconds(ios: float, nbytes: float, profile: DiskProfile) -> float:
    """The time one disk of the profile needs for these requests and bytes."""
    return max(ios / profile.iops, nbytes / profile.bps)


def modeled_seconds(metrics: dict[str, float], profile: DiskProfile | None) -> float | None:
    """The headline of one run from its figures, or None when a figure is
    missing (no CPU time, no disk counts, or no disk profile to price them)."""
    if profile is None or "cpu_seconds" not in metrics or "disk_ios" not in metrics \
            or "disk_mib" not in metrics:
        return None
    io = disk_seconds(metrics["disk_ios"], metrics["disk_mib"] * 2**20, profile)
    return round(metrics["cpu_seconds"] + io, 3)
