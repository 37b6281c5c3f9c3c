"""The decision which of torch's CPU kernel classes a CPU can run, on the flag lists of CPUs CI never
runs on, and against torch's own pick on this one."""

import platform

import pytest

from . import cpu_classes

#: /proc/cpuinfo's flags of a 2-core AMD EPYC (Zen 3) virtual machine: AVX2 and FMA, no AVX-512.
AVX2_ONLY = (
    "fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush mmx fxsr sse sse2 ht "
    "syscall nx mmxext fxsr_opt pdpe1gb rdtscp lm constant_tsc rep_good nopl xtopology nonstop_tsc cpuid "
    "extd_apicid tsc_known_freq pni pclmulqdq ssse3 fma cx16 pcid sse4_1 sse4_2 x2apic movbe popcnt "
    "tsc_deadline_timer aes xsave avx f16c rdrand hypervisor lahf_lm cmp_legacy cr8_legacy abm sse4a "
    "misalignsse 3dnowprefetch osvw topoext ssbd ibrs ibpb stibp vmmcall fsgsbase tsc_adjust bmi1 avx2 smep "
    "bmi2 erms invpcid rdseed adx smap clflushopt clwb sha_ni xsaveopt xsavec xgetbv1 xsaves clzero "
    "xsaveerptr wbnoinvd arat umip pku ospke vaes vpclmulqdq rdpid fsrm"
)

#: The same family one generation on (Zen 4): AVX-512 F, DQ, CD, BW, VL and more.
AVX512 = (
    f"{AVX2_ONLY} avx512f avx512dq avx512ifma avx512cd avx512bw avx512vl avx512_bf16 avx512vbmi "
    "avx512_vbmi2 avx512_vnni avx512_bitalg avx512_vpopcntdq"
)

#: A Xeon Phi (Knights Landing): AVX-512 F and CD but not VL, BW or DQ, which torch's AVX-512 kernels use.
AVX512F_WITHOUT_VL_BW_DQ = f"{AVX2_ONLY} avx512f avx512cd avx512er avx512pf"

#: A Sandy Bridge: AVX but neither AVX2 nor FMA.
AVX_ONLY = " ".join(flag for flag in AVX2_ONLY.split() if flag not in {"avx2", "fma"})

#: /proc/cpuinfo's Features of an AWS Graviton2 (Neoverse N1, no SVE) and a Graviton3 (Neoverse V1: SVE
#: and BF16).
NEOVERSE_N1 = "fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop"
NEOVERSE_V1 = (
    "fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm jscvt fcma lrcpc dcpop "
    "sha3 sm3 sm4 asimddp sha512 sve asimdfhm dit uscat ilrcpc flagm ssbs paca pacg dcpodp svei8mm svebf16 "
    "i8mm bf16 dgh rng"
)


@pytest.mark.parametrize(
    ("flags", "machine", "classes"),
    [
        (AVX2_ONLY, "x86_64", {"default", "avx2"}),
        (AVX512, "x86_64", {"default", "avx2", "avx512"}),
        (AVX512, "AMD64", {"default", "avx2", "avx512"}),
        (AVX512F_WITHOUT_VL_BW_DQ, "x86_64", {"default", "avx2"}),
        (AVX_ONLY, "x86_64", {"default"}),
        (NEOVERSE_N1, "aarch64", {"default"}),
        (NEOVERSE_V1, "aarch64", {"default", "sve256"}),
        (NEOVERSE_V1, "arm64", {"default", "sve256"}),
        (AVX512, "aarch64", {"default"}),
        (NEOVERSE_V1, "x86_64", {"default"}),
        (AVX512, "riscv64", {"default"}),
    ],
    ids=[
        "avx2-only",
        "avx512",
        "avx512-windows",
        "knights-landing",
        "sandy-bridge",
        "graviton2",
        "graviton3",
        "apple-name",
        "x86-flags-on-arm",
        "arm-flags-on-x86",
        "other-architecture",
    ],
)
def test_runnable_classes_follow_torchs_rule_for_each_cpu(flags, machine, classes):
    assert cpu_classes.runnable_classes(flags.split(), machine) == classes


def test_a_class_the_cpu_lacks_names_what_it_lacks():
    lacking_avx512 = {"avx512f", "avx512vl", "avx512bw", "avx512dq"}
    assert cpu_classes.missing_flags("avx512", AVX2_ONLY.split(), "x86_64") == lacking_avx512
    assert cpu_classes.missing_flags("avx2", AVX_ONLY.split(), "x86_64") == {"avx2", "fma"}
    assert cpu_classes.missing_flags("avx2", NEOVERSE_V1.split(), "aarch64") is None


def test_flags_are_read_from_cpuinfo_on_x86_and_arm(tmp_path):
    x86 = tmp_path / "x86"
    x86.write_text(f"processor\t: 0\nmodel name\t: AMD EPYC\nflags\t\t: {AVX2_ONLY}\n\nprocessor\t: 1\n")
    arm = tmp_path / "arm"
    arm.write_text(f"processor\t: 0\nBogoMIPS\t: 2100.00\nFeatures\t: {NEOVERSE_V1}\nCPU part\t: 0xd40\n")
    assert cpu_classes.cpu_flags(x86) == set(AVX2_ONLY.split())
    assert cpu_classes.cpu_flags(arm) == set(NEOVERSE_V1.split())
    assert cpu_classes.cpu_flags(tmp_path / "absent") is None


def test_the_flags_allow_the_class_torch_picks_unforced_on_this_cpu():
    """The flag rule against torch's own detection here: torch's pick is runnable, and on x86 (where
    torch picks the best class the CPU has) no runnable class lies above it."""
    flags = cpu_classes.cpu_flags()
    if flags is None:
        pytest.skip("no /proc/cpuinfo on this system")
    machine = platform.machine()
    picked = cpu_classes.unforced_class()
    runnable = cpu_classes.runnable_classes(flags, machine)
    assert picked in runnable
    if cpu_classes.architecture(machine) == "x86_64":
        order = ["default", "avx2", "avx512"]
        assert max(runnable, key=order.index) == picked
