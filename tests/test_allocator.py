"""Freed training buffers must be reused, not faulted in again every step."""

import subprocess
import sys
import textwrap

import pytest

# In a fresh process: glibc's defaults first, then with the setting.
PROBE = textwrap.dedent(
    """
    import resource, torch
    from rnn_timescales import allocator
    def step():  # a 60 MB buffer, written and freed, like a trajectory at N=50
        torch.empty(15_000_000).fill_(1.0)
    def faults():
        for _ in range(3):  # the heap grows to its peak first
            step()
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        for _ in range(5):
            step()
        return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
    default = faults()
    print(default, allocator.keep_freed_memory(), faults())
    """
)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="a glibc setting")
def test_keep_freed_memory_stops_page_faults_of_reallocated_buffers():
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True)
    default, applied, kept = out.stdout.split()
    if applied != "True":
        pytest.skip("not glibc")
    # 5 x 60 MB = 73,000 pages faulted in again by default; reused when kept.
    assert int(default) > 50_000
    assert int(kept) < 1_000
