"""A single-node Kafka (KRaft, combined broker+controller) from Maven Central jars."""

from __future__ import annotations

import asyncio
import base64
import fcntl
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

from . import procs
from .profiles import HOST, Profile, repo_root

NAME = "kafka"
START_TIMEOUT = 120.0
DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1"  # the default 2.x is too old


def pom_path() -> Path:
    return repo_root() / "deploy/local/kafka/pom.xml"


def kafka_version(pom: Path | None = None) -> str:
    m = re.search(r"<kafka\.version>([^<]+)</kafka\.version>", (pom or pom_path()).read_text())
    if not m:
        raise RuntimeError(f"no <kafka.version> in {pom or pom_path()}")
    return m.group(1)


def cache_dir() -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "byte" / f"kafka-{kafka_version()}"


def libs_dir() -> Path:
    """Kafka's runtime jars, fetched once per machine (shared by clones and profiles)."""
    cache = cache_dir()
    libs = cache / "libs"
    if (libs / ".complete").exists():
        return libs
    cache.mkdir(parents=True, exist_ok=True)
    with open(cache / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another profile may be fetching right now
        if (libs / ".complete").exists():
            return libs
        mvn = shutil.which("mvn")
        if not mvn:
            raise procs.StackError(f"{NAME}: `mvn` not found; Maven fetches Kafka's jars into {libs}")
        tmp = cache / f"libs.tmp-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        r = subprocess.run(
            [
                mvn,
                "-q",
                "-B",
                "-f",
                str(pom_path()),
                f"{DEPENDENCY_PLUGIN}:copy-dependencies",
                "-DincludeScope=runtime",
                f"-DoutputDirectory={tmp}",
            ],
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            check=False,
        )
        if r.returncode != 0 or not any(tmp.glob("kafka_2.13-*.jar")):
            raise procs.StackError(f"{NAME}: fetching the Kafka jars with Maven failed:\n{r.stdout}\n{r.stderr}")
        (tmp / ".complete").write_text(time.strftime("%Y-%m-%dT%H:%M:%S"))
        shutil.rmtree(libs, ignore_errors=True)
        tmp.rename(libs)
    return libs


def server_properties(profile: Profile, data_dir: Path) -> str:
    props = {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.bootstrap.servers": f"{HOST}:{profile.kafka_controller_port}",
        "listeners": f"PLAINTEXT://{HOST}:{profile.kafka_port},CONTROLLER://{HOST}:{profile.kafka_controller_port}",
        "advertised.listeners": f"PLAINTEXT://{HOST}:{profile.kafka_port},CONTROLLER://{HOST}:{profile.kafka_controller_port}",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "log.dirs": str(data_dir),
        "num.partitions": "3",
        "auto.create.topics.enable": "true",
        # one node: every internal topic must live with a single replica
        "offsets.topic.replication.factor": "1",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "share.coordinator.state.topic.replication.factor": "1",
        "share.coordinator.state.topic.min.isr": "1",
        "default.replication.factor": "1",
        "min.insync.replicas": "1",
        # consumers in tests join at once instead of waiting 3 s for more members
        "group.initial.rebalance.delay.ms": "0",
        "offsets.topic.num.partitions": "10",
        # the 128 MB default would not fit a 512 MB heap comfortably
        "log.cleaner.dedupe.buffer.size": "8388608",
        "log.retention.hours": "168",
        "log.segment.bytes": "67108864",
        "num.network.threads": "2",
        "num.io.threads": "4",
    }
    return "".join(f"{k}={v}\n" for k, v in props.items())


LOG4J2 = """\
# byte-stack: Kafka logs to stdout, which byte-stack sends to logs/kafka.log
status = warn
appender.out.type = Console
appender.out.name = STDOUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = info
rootLogger.appenderRef.out.ref = STDOUT
logger.kafka.name = kafka
logger.kafka.level = info
logger.request.name = kafka.request.logger
logger.request.level = warn
logger.state.name = state.change.logger
logger.state.level = warn
logger.controller.name = org.apache.kafka.controller
logger.controller.level = warn
"""


def _java() -> str:
    home = os.environ.get("JAVA_HOME")
    java = str(Path(home) / "bin" / "java") if home else shutil.which("java")
    if not java:
        raise procs.StackError(f"{NAME}: `java` (17+) not found")
    return java


def _jvm_args(kdir: Path, libs: Path) -> list[str]:
    tmp = kdir / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    return [
        _java(),
        "-Xms256m",
        "-Xmx512m",
        "-XX:+UseG1GC",
        "-XX:MaxGCPauseMillis=20",
        "-Djava.awt.headless=true",
        # snappy/zstd unpack native code into the temp dir
        f"-Djava.io.tmpdir={tmp}",
        f"-Dlog4j2.configurationFile={kdir / 'log4j2.properties'}",
        f"-Dkafka.logs.dir={kdir / 'logs'}",
        "-cp",
        f"{libs}/*",
    ]


def cluster_id() -> str:
    return base64.urlsafe_b64encode(os.urandom(16)).decode().rstrip("=")


def prepare(profile: Profile, state: Path, libs: Path) -> Path:
    """Write the config (every start, it is derived) and format the log dir (once)."""
    kdir = state / "kafka"
    data = kdir / "data"
    kdir.mkdir(parents=True, exist_ok=True)
    props = kdir / "server.properties"
    props.write_text(server_properties(profile, data))
    (kdir / "log4j2.properties").write_text(LOG4J2)
    if not (data / "meta.properties").exists():
        cid_file = kdir / "cluster.id"
        if not cid_file.exists():
            cid_file.write_text(cluster_id())
        log = procs.log_path(state, NAME)
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "ab") as out:
            r = subprocess.run(
                [
                    *_jvm_args(kdir, libs),
                    "kafka.tools.StorageTool",
                    "format",
                    "--standalone",
                    "-t",
                    cid_file.read_text().strip(),
                    "-c",
                    str(props),
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                check=False,
            )
        if r.returncode != 0:
            raise procs.StackError(f"{NAME}: formatting {data} failed\n  log: {log}\n{procs.tail(log)}")
    return props


async def _metadata(bootstrap: str) -> bool:
    from aiokafka.client import AIOKafkaClient

    client = AIOKafkaClient(bootstrap_servers=bootstrap, request_timeout_ms=3000, metadata_max_age_ms=1000)
    try:
        await asyncio.wait_for(client.bootstrap(), timeout=5)
        # a metadata answer that lists a broker: the broker is registered with the controller
        return len(client.cluster.brokers()) > 0
    finally:
        await client.close()


def check(bootstrap: str) -> bool:
    host, _, port = bootstrap.split(",")[0].rpartition(":")
    if not procs.port_open(host, int(port)):
        return False
    return asyncio.run(_metadata(bootstrap))


def ensure(profile: Profile, state: Path, bootstrap: str) -> bool:
    log = procs.log_path(state, NAME)
    proc = procs.running(state, NAME)
    started = False
    if proc is None:
        procs.ensure_port_free(NAME, HOST, profile.kafka_port)
        procs.ensure_port_free(NAME, HOST, profile.kafka_controller_port)
        libs = libs_dir()
        props = prepare(profile, state, libs)
        proc = procs.spawn(state, NAME, [*_jvm_args(state / "kafka", libs), "kafka.Kafka", str(props)])
        started = True
    procs.wait_healthy(NAME, lambda: check(bootstrap), timeout=START_TIMEOUT, proc=proc, log=log, interval=0.5)
    return started


def stop(state: Path) -> bool:
    # a controlled shutdown of a single node takes a few seconds
    return procs.stop(state, NAME, timeout=30)
