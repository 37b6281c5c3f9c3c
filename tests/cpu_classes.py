"""Which of torch's CPU kernel classes (the values of ``ATEN_CPU_CAPABILITY``) this CPU can run.

torch trusts a forced x86 class without asking the CPU, so a child forced to ``avx512`` on an AVX2-only
CPU dies with SIGILL; a test that forces a class asks here first. The rule is torch's own detection
(``aten/src/ATen/native/DispatchStub.cpp``), read from the flags the operating system reports."""

import os
import platform
import subprocess
import sys
from collections.abc import Collection
from pathlib import Path

#: The flags (as Linux's /proc/cpuinfo spells them) each forcible class needs, by architecture: torch
#: picks AVX-512 where the CPU has AVX-512 VL, BW and DQ and FMA3, AVX2 where it has AVX2 and FMA3, and
#: SVE256 only on an SVE CPU with BF16 (whose 256-bit vector length torch checks itself).
REQUIRED_FLAGS: dict[str, dict[str, frozenset[str]]] = {
    "x86_64": {
        "avx2": frozenset({"avx2", "fma"}),
        "avx512": frozenset({"avx512f", "avx512vl", "avx512bw", "avx512dq", "fma"}),
    },
    "aarch64": {"sve256": frozenset({"sve", "bf16"})},
}

#: ``platform.machine()``'s other names for the same architectures.
MACHINE_ALIASES = {"amd64": "x86_64", "x64": "x86_64", "arm64": "aarch64"}

#: Every class a test may force; "default" (no vector kernels) runs on every CPU.
FORCIBLE = ("default", *sorted({name for classes in REQUIRED_FLAGS.values() for name in classes}))


def architecture(machine: str) -> str:
    """The architecture's name in :data:`REQUIRED_FLAGS` for a ``platform.machine()`` string."""
    lowered = machine.lower()
    return MACHINE_ALIASES.get(lowered, lowered)


def missing_flags(capability: str, flags: Collection[str], machine: str) -> frozenset[str] | None:
    """The flags a CPU of ``machine`` with ``flags`` lacks for ``capability``: empty when it can run the
    class, ``None`` when the class does not exist on that architecture."""
    if capability == "default":
        return frozenset()
    required = REQUIRED_FLAGS.get(architecture(machine), {}).get(capability)
    return None if required is None else required - set(flags)


def runnable_classes(flags: Collection[str], machine: str) -> frozenset[str]:
    """Every class a CPU of ``machine`` reporting ``flags`` can run."""
    return frozenset(name for name in FORCIBLE if missing_flags(name, flags, machine) == frozenset())


def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> frozenset[str] | None:
    """The feature flags Linux reports for the first CPU (x86's ``flags``, ARM's ``Features``), or
    ``None`` where there is no /proc/cpuinfo to read (macOS, Windows)."""
    try:
        text = cpuinfo.read_text()
    except OSError:
        return None
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in {"flags", "Features"}:
            return frozenset(value.split())
    return None


def unforced_class() -> str:
    """The class torch picks on this CPU when nothing forces one, from a child without
    ``ATEN_CPU_CAPABILITY`` (which this process may have been started with)."""
    environment = {key: value for key, value in os.environ.items() if key != "ATEN_CPU_CAPABILITY"}
    completed = subprocess.run(
        [sys.executable, "-c", "import torch; print(torch.backends.cpu.get_cpu_capability())"],
        env=environment,
        capture_output=True,
        text=True,
        check=True,
    )
    return completed.stdout.strip().lower()


def why_not_runnable(capability: str) -> str | None:
    """Why this CPU cannot run ``capability`` (a sentence for a skip), or ``None`` when it can. Where the
    operating system reports no flags, torch's own unforced pick decides: on x86 it runs every class up to
    that one."""
    machine = platform.machine()
    flags = cpu_flags()
    if flags is None:
        picked = unforced_class()
        order = ("default", *REQUIRED_FLAGS.get(architecture(machine), {}))
        if capability in order and picked in order and order.index(capability) <= order.index(picked):
            return None
        return f"this {machine} CPU reports no flags and torch picks {picked}, not {capability}, unforced"
    missing = missing_flags(capability, flags, machine)
    if missing is None:
        return f"{capability} kernels do not exist on {machine}"
    if missing:
        return f"this {machine} CPU cannot run {capability} kernels: it lacks {', '.join(sorted(missing))}"
    return None
