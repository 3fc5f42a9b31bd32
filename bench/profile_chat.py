"""Where each of Parley's processes spends its CPU under the yardstick's chat load: ``make cluster``
with one gateway (``--gateways``, sockets spread over them; BUS_ROUTING as in the environment) on a
fresh database, ``shared/bench/loadgen.mjs`` (chat 200 x 2 at RATE msg/s), and py-spy sampling every
process (gateway, messages, presence) during the measured step only.

    .venv/bin/pip install py-spy          # not in bench/requirements.txt: a profiling tool
    .venv/bin/python bench/profile_chat.py --rate 1000 --duration 15

Writes var/bench/profile-<stamp>/<process>.txt (py-spy's collapsed stacks, for flamegraph.pl or
speedscope) and prints, per process, the functions with the most samples: self (the function itself)
and total (with what it calls), in % of that process's samples.
"""

from __future__ import annotations

import argparse
import collections
import json
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.parley_bench import topology  # noqa: E402 - after the path set-up
from bench.parley_bench.log import log  # noqa: E402
from bench.run_bench import SHARED  # noqa: E402


def summarize(collapsed: Path, top: int) -> list[str]:
    """The ``top`` frames by self and by total samples, from py-spy's raw (collapsed) output."""
    own: collections.Counter[str] = collections.Counter()
    total: collections.Counter[str] = collections.Counter()
    samples = 0
    for line in collapsed.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        n = int(count)
        frames = [_short(f) for f in stack.split(";")]
        samples += n
        own[frames[-1]] += n
        for frame in set(frames):
            total[frame] += n
    if not samples:
        return ["  (no samples)"]
    lines = [f"  {samples} samples; self:"]
    lines += [f"    {100 * n / samples:5.1f}%  {f}" for f, n in own.most_common(top)]
    lines.append("  total (with callees):")
    lines += [f"    {100 * n / samples:5.1f}%  {f}" for f, n in total.most_common(top)]
    return lines


def _short(frame: str) -> str:
    # "func (path/to/module.py:12)" -> "func (module.py)": lines differ per call site
    name, _, where = frame.partition(" (")
    file = where.split(":")[0].rsplit("/", 1)[-1] if where else ""
    return f"{name} ({file})" if file else name


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rate", type=int, default=1000)
    p.add_argument("--duration", type=int, default=15)
    p.add_argument("--conversations", type=int, default=200)
    p.add_argument("--gateways", type=int, default=1, help="sockets spread over them round-robin")
    p.add_argument("--top", type=int, default=25)
    p.add_argument("--py-spy", default=str(Path(sys.executable).parent / "py-spy"))
    args = p.parse_args()
    if not Path(args.py_spy).exists() and not shutil.which("py-spy"):
        raise SystemExit("py-spy is not installed: .venv/bin/pip install py-spy")
    out = REPO / "var" / "bench" / time.strftime("profile-%Y%m%dT%H%M%SZ", time.gmtime())
    out.mkdir(parents=True, exist_ok=True)
    secret = f"bench-{uuid.uuid4().hex}"
    server = topology.start_parley(args.gateways, secret, out)
    spies: list[subprocess.Popen[bytes]] = []
    try:
        pids = ",".join(str(pid) for _, pid in server.pids)
        argv = [
            *("node", "bench/loadgen.mjs", "--url", ",".join(server.urls), "--secret", secret, "--pid", pids),
            *("--scenario", "chat", "--conversations", str(args.conversations), "--members", "2"),
            *("--rate", str(args.rate), "--duration", str(args.duration), "--stop-after-fails", "0"),
        ]
        loadgen = subprocess.Popen(argv, cwd=SHARED, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert loadgen.stderr is not None and loadgen.stdout is not None
        for raw in loadgen.stderr:
            line = raw.decode(errors="replace").rstrip()
            log(f"loadgen: {line}")
            if "warmup done" in line:  # the measured step starts now
                for label, pid in server.pids:
                    spies.append(
                        subprocess.Popen(
                            [
                                *(args.py_spy, "record", "--pid", str(pid)),
                                *("--duration", str(args.duration - 1)),
                                *("--rate", "200", "--nonblocking", "--format", "raw"),
                                *("--output", str(out / f"{label}-{pid}.txt")),
                            ],
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL,
                        )
                    )
        result = json.loads(loadgen.stdout.read().decode().strip().splitlines()[-1])
        loadgen.wait()
        for spy in spies:
            spy.wait(timeout=120)
    finally:
        server.stop()
    (out / "loadgen.json").write_text(json.dumps(result, indent=1))
    step = (result.get("steps") or result.get("result", {}).get("steps") or [{}])[-1]
    cpu = ", ".join(f"{k[:-6]} {v}%" for k, v in step.get("usage", {}).items() if k.endswith("CpuPct"))
    print(f"# {' '.join(argv)}")
    print(f"ack p50 {step.get('ackMs', {}).get('p50')} p99 {step.get('ackMs', {}).get('p99')} ms; CPU: {cpu}")
    for label, pid in server.pids:
        print(f"\n## {label} {pid}")
        path = out / f"{label}-{pid}.txt"
        print("\n".join(summarize(path, args.top)) if path.exists() else "  (py-spy wrote nothing)")
    print(f"\n(raw stacks in {out})")


if __name__ == "__main__":
    main()
