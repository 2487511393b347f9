#!/usr/bin/env python3
"""Runs every test of the workspace and prints one summary line, `N passed, N failed`.

1. Builds every test binary once (`cargo test --no-run`, in the profile `make build` already
   compiled, so RocksDB and the binaries are built once).
2. Runs the binaries (and the doc tests) in `--jobs` parallel slots, the longest first. The
   process-level tests spend most of their time waiting for blocks, so two of them share two
   cores without slowing each other down much; a binary's own tests still run one network at a
   time (`common::serial`).
3. Bounds each binary in time (`--timeout`): a test that hangs fails by name instead of eating
   the whole CI budget.
4. Gives each binary its own TMPDIR and, when it ends (passed, failed, crashed or killed),
   kills every process whose command line names that directory: the networks a killed test
   could not stop (CometBFT, sidechaind, relayers, geth) never outlive it or hold its ports.

Each binary's output is printed as one block when it ends, with its duration; cargo's own
`test result:` lines are kept, and the totals are summed from them.
"""

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Expected seconds of the slow binaries (measured on 2 cores), to start the longest first.
# Unknown binaries count as short; a wrong guess only costs some wall-clock time.
EXPECTED = {
    "testnet/bridge_withdrawal_faults": 400,
    "testnet/bridge": 240,
    "testnet/consensus": 150,
    "testnet/validators": 120,
    "testnet/bridge_withdrawals": 90,
    "testnet/node_process": 90,
    "contracts/deploy_geth": 20,
    "contracts/bridge": 15,
    "bridge-relayer/mesh": 15,
}

RESULT = re.compile(r"^test result: \w+\. (\d+) passed; (\d+) failed")
FAILED = re.compile(r"^test (.+) \.\.\. FAILED$")


class Job:
    def __init__(self, name, label, argv, cwd, env):
        self.name = name
        self.label = label
        self.argv = argv
        self.cwd = cwd
        self.env = env
        self.expected = EXPECTED.get(name, 5)


def build(profile):
    """Compiles the test binaries; returns one Job per executable."""
    cmd = [
        "cargo", "test", "--locked", "--profile", profile, "--workspace", "--no-run",
        "--message-format=json-render-diagnostics",
    ]
    print("==> " + " ".join(cmd), flush=True)
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    jobs = []
    for line in proc.stdout:
        try:
            msg = json.loads(line)
        except ValueError:
            continue
        if msg.get("reason") != "compiler-artifact" or not msg.get("executable"):
            continue
        if not msg.get("profile", {}).get("test"):
            continue
        target = msg["target"]
        manifest_dir = os.path.dirname(msg["manifest_path"])
        src = os.path.relpath(target["src_path"], manifest_dir)
        kind = "unittests" if target["kind"] != ["test"] else "tests"
        label = f"{kind} {src} ({msg['executable']})"
        env = dict(os.environ, CARGO_MANIFEST_DIR=manifest_dir)
        crate_dir = os.path.relpath(manifest_dir, ROOT)
        name = f"{crate_dir}/{target['name']}" + ("" if kind == "tests" else " (unit)")
        jobs.append(Job(name, label, [msg["executable"]], manifest_dir, env))
    if proc.wait() != 0:
        return None
    return jobs


def leftovers(tmp):
    """Pids of processes whose command line names `tmp`."""
    pids = []
    needle = tmp.encode()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                if needle in f.read():
                    pids.append(int(entry))
        except OSError:
            pass
    return pids


def run(job, timeout):
    """Runs one job in its own TMPDIR and process group; returns (job, seconds, output, rc, why)."""
    tmp = tempfile.mkdtemp(prefix="sct", dir="/tmp")  # short: unix socket paths stay < 108
    env = dict(job.env, TMPDIR=tmp)
    started = time.monotonic()
    why = None
    with tempfile.TemporaryFile(mode="w+") as out:
        proc = subprocess.Popen(
            job.argv, cwd=job.cwd, env=env, stdout=out, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )
        try:
            rc = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            why = f"killed after the {timeout} s limit of one test binary"
            os.killpg(proc.pid, signal.SIGKILL)
            rc = proc.wait()
        out.seek(0)
        text = out.read()
    stray = leftovers(tmp)
    for pid in stray:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    if stray:
        text += f"\n[run-tests] killed {len(stray)} process(es) the binary left running\n"
    shutil.rmtree(tmp, ignore_errors=True)
    return job, time.monotonic() - started, text, rc, why


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--profile", default=os.environ.get("CARGO_PROFILE", "release"))
    ap.add_argument("--jobs", type=int, default=int(os.environ.get("TEST_JOBS", "2")),
                    help="test binaries run at once (default 2, or $TEST_JOBS)")
    ap.add_argument("--timeout", type=int, default=int(os.environ.get("TEST_TIMEOUT", "1500")),
                    help="seconds one test binary may run (default 1500, or $TEST_TIMEOUT)")
    ap.add_argument("only", nargs="*",
                    help="run only the binaries whose name (crate dir/target) contains one of these")
    opts = ap.parse_args()

    jobs = build(opts.profile)
    if jobs is None:
        print("\nthe test build failed (see the compiler's messages above)")
        print("0 passed, 1 failed")
        return 101
    docs = Job(
        "doc tests", "doc tests (cargo test --doc)",
        ["cargo", "test", "--locked", "--profile", opts.profile, "--workspace", "--doc"],
        ROOT, dict(os.environ),
    )
    jobs.append(docs)
    if opts.only:
        jobs = [j for j in jobs if any(o in j.name for o in opts.only)]
    jobs.sort(key=lambda j: -j.expected)
    print(f"==> running {len(jobs)} test binaries, {opts.jobs} at a time", flush=True)

    lock = threading.Lock()
    passed = failed = 0
    failures = []
    durations = []
    wall = time.monotonic()

    def report(result):
        nonlocal passed, failed
        job, secs, text, rc, why = result
        p = f = 0
        names = []
        for line in text.splitlines():
            m = RESULT.match(line)
            if m:
                p += int(m.group(1))
                f += int(m.group(2))
            m = FAILED.match(line)
            if m:
                names.append(f"{job.name}: {m.group(1)}")
        if rc != 0 and f == 0:
            f = 1
            names.append(f"{job.name}: {why or f'exited with status {rc} (crashed or failed to start)'}")
        with lock:
            passed += p
            failed += f
            failures.extend(names)
            durations.append((secs, job.name))
            print(f"\n     Running {job.label}", flush=True)
            sys.stdout.write(text)
            if why:
                print(f"[run-tests] {job.name}: {why}")
            print(f"     ({job.name}: {secs:.1f} s, exit {rc})", flush=True)

    with ThreadPoolExecutor(max_workers=max(1, opts.jobs)) as pool:
        for fut in [pool.submit(run, j, opts.timeout) for j in jobs]:
            fut.add_done_callback(lambda f: report(f.result()))

    print("\n==> slowest test binaries:")
    for secs, name in sorted(durations, reverse=True)[:8]:
        print(f"    {secs:7.1f} s  {name}")
    print(f"==> wall clock of the test run: {time.monotonic() - wall:.0f} s")
    print("==> failing tests:")
    for name in failures:
        print(f"    {name}")
    if not failures:
        print("    none")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
