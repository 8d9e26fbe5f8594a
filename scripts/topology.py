"""Start the deployment's topology as local processes: redis-server, gateways, workers, nginx.

``make run`` uses it (``python -m scripts.topology run``), and so do the end-to-end tests, so what the
tests exercise is what a user runs. Every process logs to a file in the run directory.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from scripts.render_nginx import local_values, render
from scripts.supervisor import Supervisor
from services.bus.keys import BATCH_CALLBACKS_QUEUE, BATCH_JOBS_QUEUE

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def free_cluster_port() -> int:
    """A free port whose cluster bus port (+10000) is free too, as Redis Cluster needs."""
    for _ in range(200):
        port = random.randint(20000, 45000)
        with socket.socket() as a, socket.socket() as b:
            try:
                a.bind(("127.0.0.1", port))
                b.bind(("127.0.0.1", port + 10000))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port pair for a Redis Cluster node")


def wait_for(check: object, timeout: float, what: str, proc: Proc | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and not proc.alive():
            raise RuntimeError(f"{what}: process exited with {proc.popen.returncode}; see {proc.log_path}")
        with contextlib.suppress(OSError, urllib.error.URLError):
            if check():  # type: ignore[operator]
                return
        time.sleep(0.05)
    raise TimeoutError(f"{what} not up after {timeout}s" + (f"; see {proc.log_path}" if proc else ""))


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as resp:
            return bool(resp.status == 200)
    except urllib.error.HTTPError as err:
        err.close()
        return False


def _redis_argv(binary: str, port: int, data_dir: Path, *extra: str) -> list[str]:
    """A throwaway local Redis: loopback only, nothing persisted."""
    return [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            "--dir", str(data_dir), *extra]  # fmt: skip


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path
    port: int = 0
    # How it was started, so a supervisor can start it again the same way (same port, same log).
    argv: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)

    def alive(self) -> bool:
        return self.popen.poll() is None

    def signal(self, sig: int) -> None:
        if self.alive():
            self.popen.send_signal(sig)

    def kill(self) -> None:
        """kill -9: the process gets no chance to clean up, as in a crash."""
        self.signal(signal.SIGKILL)
        self.popen.wait(5)

    def stop(self, timeout: float = 10.0) -> int | None:
        self.signal(signal.SIGTERM)
        try:
            return self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            return self.popen.returncode


@dataclass
class Topology:
    run_dir: Path
    env: dict[str, str] = field(default_factory=dict)
    procs: list[Proc] = field(default_factory=list)
    redis_url: str = ""

    def _spawn(self, name: str, argv: list[str], extra_env: Mapping[str, str] | None = None, port: int = 0) -> Proc:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.run_dir / f"{name}.log"
        env = {**os.environ, **self.env, **(extra_env or {})}
        env.setdefault("PYTHONPATH", str(ROOT))
        with open(log_path, "ab") as log:
            popen = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        proc = Proc(name, popen, log_path, port, argv, env)
        self.procs.append(proc)
        return proc

    def ingest(self, folder: Path) -> None:
        """Load a folder into the knowledge base (``python -m services.kb ingest``), waiting for it."""
        env = {**os.environ, **self.env}
        env.setdefault("PYTHONPATH", str(ROOT))
        argv = [sys.executable, "-m", "services.kb", "ingest", str(folder)]
        self.run_dir.mkdir(parents=True, exist_ok=True)
        with open(self.run_dir / "kb-ingest.log", "ab") as log:
            subprocess.run(argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, check=True, timeout=600)

    def respawn(self, proc: Proc) -> None:
        """Start a process that exited again, as it was started (it keeps its place in ``procs``)."""
        with open(proc.log_path, "ab") as log:
            proc.popen = subprocess.Popen(proc.argv, cwd=ROOT, env=proc.env, stdout=log, stderr=subprocess.STDOUT)

    def start_redis(self, port: int = 0, persist: bool = False) -> Proc:
        """``persist``: an append-only file (fsync every second), so a restart keeps the data, as a
        production Redis does (the chaos run restarts it)."""
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server not found: install Debian's redis-server package (make deps does)")
        port = port or free_port()
        data_dir = self.run_dir / f"redis-{port}"
        data_dir.mkdir(parents=True, exist_ok=True)
        persistence = ("--appendonly", "yes", "--appendfsync", "everysec") if persist else ()
        argv = _redis_argv(binary, port, data_dir, "--protected-mode", "yes", *persistence)
        proc = self._spawn(f"redis-{port}", argv, port=port)
        wait_for(lambda: port_open(port), 30, "redis-server", proc)
        self.redis_url = f"redis://127.0.0.1:{port}/0"
        self.env["REDIS_URL"] = self.redis_url
        return proc

    def start_redis_cluster(self, masters: int = 3) -> list[Proc]:
        """A Redis Cluster of `masters` nodes on free ports, slots spread over all of them."""
        binary, cli = shutil.which("redis-server"), shutil.which("redis-cli")
        if binary is None or cli is None:
            raise RuntimeError("redis-server/redis-cli not found: install Debian's redis-server package")
        procs = []
        for _ in range(masters):
            port = free_cluster_port()
            node_dir = self.run_dir / f"redis-cluster-{port}"
            node_dir.mkdir(parents=True, exist_ok=True)
            argv = _redis_argv(
                binary,
                port,
                node_dir,
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                str(node_dir / "nodes.conf"),
            )
            proc = self._spawn(f"redis-cluster-{port}", argv, port=port)
            wait_for(lambda p=port: port_open(p), 30, "redis-server (cluster)", proc)
            procs.append(proc)
        nodes = [f"127.0.0.1:{p.port}" for p in procs]
        subprocess.run(
            [cli, "--cluster", "create", *nodes, "--cluster-replicas", "0", "--cluster-yes"],
            check=True,
            capture_output=True,
            timeout=30,
        )
        first = procs[0].port

        def all_nodes_agree() -> bool:
            # Every node must see the whole cluster as ok: one node saying so does not mean the others
            # already know who owns which slots, and a client would meet MOVED errors meanwhile.
            for proc in procs:
                out = subprocess.run([cli, "-p", str(proc.port), "cluster", "info"], capture_output=True, timeout=5)
                if b"cluster_state:ok" not in out.stdout or f"cluster_known_nodes:{masters}".encode() not in out.stdout:
                    return False
            return True

        wait_for(all_nodes_agree, 60, "redis cluster: every node sees state ok")
        self.redis_url = f"redis://127.0.0.1:{first}/0"
        self.env["REDIS_URL"] = self.redis_url
        self.env["REDIS_CLUSTER"] = "true"
        return procs

    def start_gateway(self, port: int = 0, name: str = "", extra_env: Mapping[str, str] | None = None) -> Proc:
        port = port or free_port()
        env = {"GATEWAY_PORT": str(port), "GATEWAY_ID": name or f"gw-{port}", **(extra_env or {})}
        proc = self._spawn(name or f"gateway-{port}", [sys.executable, "-m", "gateway"], env, port)
        wait_for(lambda: http_ok(f"http://127.0.0.1:{port}/healthz"), 60, "gateway", proc)
        return proc

    def start_worker(self, capability: str, name: str = "", extra_env: Mapping[str, str] | None = None) -> Proc:
        metrics_port = free_port()
        # A worker runs its engine in one thread and is scaled per core: OpenBLAS's own threads only
        # fight the other workers (they made the kb embedder 3-6 times slower on a busy machine).
        # MALLOC_ARENA_MAX: an ASR worker feeds sessions from several threads (Whisper's batched decode);
        # glibc's arena per thread cost 90-100 MB a worker (bench-asr, 18-22 streams a worker).
        env = {
            "METRICS_PORT": str(metrics_port),
            "OPENBLAS_NUM_THREADS": "1",
            "MALLOC_ARENA_MAX": "2",
            **(extra_env or {}),
        }
        if name:
            env["WORKER_ID"] = name
        proc = self._spawn(
            name or f"worker-{capability}-{metrics_port}",
            [sys.executable, "-m", "workers", capability],
            env,
            metrics_port,
        )
        # The metrics port opens once the engine is loaded: the worker is about to join its group.
        wait_for(lambda: port_open(metrics_port), 120, f"{capability} worker", proc)
        return proc

    def start_celery_worker(
        self, queues: Sequence[str], extra_env: Mapping[str, str] | None = None, name: str = ""
    ) -> Proc:
        """A batch worker (workers/batch/celery_app.py) consuming the given Celery queues."""
        metrics_port = free_port()
        name = name or f"worker-batch-{metrics_port}"
        env = {"METRICS_PORT": str(metrics_port), **(extra_env or {})}
        argv = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "workers.batch.celery_app",
            "worker",
            "--pool=solo",
            "--concurrency=1",
            "-Q",
            ",".join(queues),
            "-n",
            f"{name}@%h",
            "--without-mingle",
            "--without-gossip",
            "--without-heartbeat",
        ]
        proc = self._spawn(name, argv, env, metrics_port)
        # The metrics port opens on worker_ready: the engine is loaded and the worker consumes its queues.
        wait_for(lambda: port_open(metrics_port), 120, "batch worker", proc)
        return proc

    def start_nginx(self, gateway_ports: list[int], port: int = 0, servers: Mapping[str, str] | None = None) -> Proc:
        """nginx in front of the gateways; ``servers``: extra server blocks by file name (a TLS one)."""
        binary = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
        if binary is None:
            raise RuntimeError("nginx not found: install Debian's nginx-light package (make deps does)")
        port = port or free_port()
        nginx_dir = self.run_dir / f"nginx-{port}"
        nginx_dir.mkdir(parents=True, exist_ok=True)
        conf = nginx_dir / "nginx.conf"
        values = local_values(f"127.0.0.1:{port}", [f"127.0.0.1:{p}" for p in gateway_ports], nginx_dir)
        (nginx_dir / "conf.d").mkdir(exist_ok=True)
        for name, text in (servers or {}).items():
            (nginx_dir / "conf.d" / name).write_text(text)
        conf.write_text(render(values))
        argv = [binary, "-c", str(conf), "-p", str(nginx_dir), "-e", str(nginx_dir / "error.log"), "-g", "daemon off;"]
        proc = self._spawn(f"nginx-{port}", argv, port=port)
        wait_for(lambda: port_open(port), 30, "nginx", proc)
        return proc

    def stop_all(self) -> None:
        for proc in reversed(self.procs):
            proc.stop()
        self.procs.clear()


@contextlib.contextmanager
def running(topology: Topology) -> Iterator[Topology]:
    try:
        yield topology
    finally:
        topology.stop_all()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m scripts.topology", description=__doc__)
    parser.add_argument("command", choices=["run"])
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8080")))
    parser.add_argument("--gateways", type=int, default=2)
    parser.add_argument("--redaction-workers", type=int, default=2)
    parser.add_argument("--asr-workers", type=int, default=1)
    parser.add_argument("--voice-workers", type=int, default=1)
    parser.add_argument("--kb-workers", type=int, default=1)
    parser.add_argument("--kb-folder", type=Path, default=ROOT / "kb_sample", help="ingested at start")
    parser.add_argument("--run-dir", type=Path, default=ROOT / ".run")
    args = parser.parse_args()

    # Hashed markers must match whichever worker answers: one key for the whole local deployment.
    topo = Topology(
        args.run_dir,
        env={"REDACTION_MARKER_HASH_KEY": os.environ.get("REDACTION_MARKER_HASH_KEY") or secrets.token_hex(16)},
    )
    stop = {"now": False}

    def on_signal(signum: int, frame: object) -> None:
        stop["now"] = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    with running(topo):
        if os.environ.get("REDIS_URL"):
            topo.redis_url = os.environ["REDIS_URL"]
        else:
            topo.start_redis(int(os.environ.get("REDIS_PORT", "0")))
        gateway_ports = [topo.start_gateway(name=f"gateway-{i + 1}").port for i in range(args.gateways)]
        for i in range(args.redaction_workers):
            topo.start_worker("redaction", name=f"worker-redaction-{i + 1}")
        # Batch jobs (REST /transcribe with callback) and callback delivery.
        topo.start_celery_worker([BATCH_JOBS_QUEUE, BATCH_CALLBACKS_QUEUE], name="worker-batch-1")
        for i in range(args.asr_workers):
            topo.start_worker("asr", name=f"worker-asr-{i + 1}")
        # The sample knowledge base, so a new user can ask at once (re-ingesting unchanged files is cheap).
        topo.ingest(args.kb_folder)
        for i in range(args.kb_workers):
            topo.start_worker("kb", name=f"worker-kb-{i + 1}")
        for i in range(args.voice_workers):
            topo.start_worker("voice", name=f"worker-voice-{i + 1}", extra_env={"SESSION_CAPACITY": "32"})
        topo.start_nginx(gateway_ports, args.port)
        print(
            f"ready: ws://127.0.0.1:{args.port}/ws  http://127.0.0.1:{args.port}/process/text  "
            f"ws://127.0.0.1:{args.port}/transcribe  ws://127.0.0.1:{args.port}/voice_verify_stream  "
            f"Socket.IO http://127.0.0.1:{args.port} (evaluate_query)",
            flush=True,
        )
        print(f"redis: {topo.redis_url}; logs and metrics ports: {args.run_dir}", flush=True)
        for proc in topo.procs:
            print(f"  {proc.name}: pid {proc.popen.pid}" + (f", port {proc.port}" if proc.port else ""), flush=True)
        supervisor = Supervisor(topo, report=lambda line: print(line, file=sys.stderr, flush=True))
        while not stop["now"]:
            supervisor.check()
            time.sleep(0.5)


if __name__ == "__main__":
    main()
