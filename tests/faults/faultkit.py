"""Tools for the fault tests: a load driver that records every answer, the
bank ledger check, and control of the native stack's processes.

The stack is the one scripts/stack.sh started (scripts/faults.sh does it):
PostgreSQL data in var/pgdata, replicas' PIDs in var/api0N.pid, sockets in
/run/rinha. Every load here is bounded in time and aimed at 127.0.0.1.
"""

import http.client
import json
import os
import random
import socket
import string
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from bank import CLIENT_IDS, HOST, LIMITES, PORT, REPO, psql, reset_database  # noqa: E402,F401  (re-exported)

VAR = os.path.join(REPO, "var")
PGDATA = os.path.join(VAR, "pgdata")
RUN_DIR = "/run/rinha"

# Durations scale down for the quick variant that `make test` runs.
SCALE = float(os.environ.get("FAULTS_SCALE", "1"))


def scaled(seconds):
    return max(0.5, seconds * SCALE)


# ---------------------------------------------------------------- processes


def pid_of(name):
    try:
        with open(os.path.join(VAR, f"{name}.pid")) as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None


def alive(pid):
    if pid is None:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (exited, not yet reaped by its parent) is not alive.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def stack(*args):
    subprocess.run([os.path.join(REPO, "scripts", "stack.sh"), *args], check=True,
                   stdout=subprocess.DEVNULL)


def pg_ctl(*args):
    bindir = sorted(
        d for d in (os.path.join("/usr/lib/postgresql", v, "bin")
                    for v in os.listdir("/usr/lib/postgresql")) if os.path.isdir(d))[-1]
    subprocess.run(["runuser", "-u", "postgres", "--", os.path.join(bindir, "pg_ctl"),
                    "-D", PGDATA, "-l", os.path.join(VAR, "log", "postgres.log"), *args],
                   check=True, stdout=subprocess.DEVNULL, timeout=60)


# --------------------------------------------------------------------- HTTP


class UnixHTTPConnection(http.client.HTTPConnection):
    """http.client over a replica's unix socket, bypassing nginx."""

    def __init__(self, path, timeout=5.0):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        s.connect(self.unix_path)
        self.sock = s


def replica_conn(name, timeout=5.0):
    return UnixHTTPConnection(os.path.join(RUN_DIR, f"{name}.sock"), timeout)


def get(conn, path):
    conn.request("GET", path)
    r = conn.getresponse()
    return r.status, r.read()


def wait_until(predicate, timeout, step=0.05):
    """Polls predicate until true; returns the seconds it took, or None."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        try:
            if predicate():
                return time.monotonic() - start
        except (OSError, http.client.HTTPException):
            pass
        time.sleep(step)
    return None


def replica_serves(name):
    conn = replica_conn(name, timeout=1.0)
    try:
        return get(conn, "/clientes/1/extrato")[0] == 200
    finally:
        conn.close()


def balancer_serves():
    conn = http.client.HTTPConnection(HOST, PORT, timeout=1.0)
    try:
        return get(conn, "/clientes/1/extrato")[0] == 200
    finally:
        conn.close()


# --------------------------------------------------------------------- load


@dataclass
class Answer:
    kind: str  # "t" (transaction) or "e" (statement)
    client: int
    status: int  # HTTP status, or 0 for a transport error / timeout
    seconds: float
    started: float
    tipo: str = ""
    valor: int = 0
    descricao: str = ""
    body: dict = field(default=None)
    retry_after: str = None  # the Retry-After header, if any


class Load:
    """Load through nginx: `workers` threads, each on its own keep-alive
    connection, sending the Rinha mix until stopped; closed-loop, or paced
    at `rate` requests/s in all (a worker that falls behind does not catch
    up in a burst). Every transaction has a unique descricao, so that the
    ledger check can find each acknowledged one in the database exactly
    once."""

    ALPHABET = string.ascii_letters + string.digits

    def __init__(self, workers=16, timeout=10.0, seed=None, rate=None):
        self.workers = workers
        self.timeout = timeout
        self.period = workers / rate if rate else 0.0  # of each worker
        self.rng_seed = seed if seed is not None else random.randrange(1 << 30)
        self.answers = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = []

    def start(self):
        for w in range(self.workers):
            t = threading.Thread(target=self._run, args=(w,), daemon=True)
            t.start()
            self._threads.append(t)
        return self

    def stop(self):
        self._stop.set()
        for t in self._threads:
            t.join(self.timeout + 5)
        return self

    def _descricao(self, worker, seq):
        # Two characters of worker, eight of sequence: unique within a run.
        a = self.ALPHABET
        tag = a[worker % len(a)] + a[(worker // len(a)) % len(a)]
        n, digits = seq, []
        for _ in range(8):
            n, d = divmod(n, len(a))
            digits.append(a[d])
        return tag + "".join(digits)

    def _one(self, conn, rng, worker, seq):
        client = rng.choice(CLIENT_IDS)
        r = rng.random()
        if r < 0.03:
            a = Answer("e", client, 0, 0.0, time.monotonic())
            method, path, body = "GET", f"/clientes/{client}/extrato", None
        else:
            tipo = "d" if r < 0.68 else "c"
            a = Answer("t", client, 0, 0.0, time.monotonic(), tipo, rng.randint(1, 10000),
                       self._descricao(worker, seq))
            method, path = "POST", f"/clientes/{client}/transacoes"
            body = json.dumps({"valor": a.valor, "tipo": a.tipo, "descricao": a.descricao})
        try:
            conn.request(method, path, body, {"Content-Type": "application/json"})
            resp = conn.getresponse()
            raw = resp.read()
            a.status = resp.status
            a.retry_after = resp.getheader("Retry-After")
            if resp.status == 200:
                a.body = json.loads(raw)
        except (OSError, http.client.HTTPException, ValueError):
            a.status = 0
            conn.close()  # http.client reconnects on the next request
        a.seconds = time.monotonic() - a.started
        return a

    def _run(self, worker):
        rng = random.Random(self.rng_seed * 1000 + worker)
        conn = http.client.HTTPConnection(HOST, PORT, timeout=self.timeout)
        seq, mine = 0, []
        next_at = time.monotonic() + worker * self.period / self.workers
        while not self._stop.is_set():
            if self.period:
                if self._stop.wait(max(0.0, next_at - time.monotonic())):
                    break
                next_at = max(next_at + self.period, time.monotonic() - self.period)
            mine.append(self._one(conn, rng, worker, seq))
            seq += 1
            if mine[-1].status == 0:
                time.sleep(0.01)  # do not spin on a refused connection
        conn.close()
        with self._lock:
            self.answers.extend(mine)

    # ---- summaries

    def by_status(self):
        counts = {}
        for a in self.answers:
            counts[a.status] = counts.get(a.status, 0) + 1
        return counts

    def acknowledged(self):
        return [a for a in self.answers if a.kind == "t" and a.status == 200]

    def longest(self):
        return max((a.seconds for a in self.answers), default=0.0)

    def describe(self):
        return (f"sent={len(self.answers)} by_status={self.by_status()} "
                f"acknowledged={len(self.acknowledged())} longest={self.longest():.3f}s seed={self.rng_seed}")


def response_inconsistencies(answers):
    """Responses that show a broken balance: a 200 whose saldo passed
    -limite or whose limite is wrong, or a statement below -limite."""
    bad = []
    for a in answers:
        if a.status != 200 or a.body is None:
            continue
        lim = LIMITES[a.client]
        if a.kind == "t":
            if a.body.get("limite") != lim or a.body.get("saldo", 0) < -lim:
                bad.append(a)
        else:
            s = a.body.get("saldo", {})
            if s.get("limite") != lim or s.get("total", 0) < -lim:
                bad.append(a)
    return bad


def outcome_problems(answers, stored):
    """What the answers said against what the database holds (`stored`:
    descricao -> list of rows). A 503 must carry Retry-After and its write
    must be absent (the server only says "retry" for what provably did not
    happen); a 504 must not carry Retry-After (its outcome is unknown); a
    refused debit (422) must be absent."""
    problems = []
    for a in answers:
        if a.status == 503 and a.retry_after is None:
            problems.append(f"503 without Retry-After for {a.kind} {a.descricao}")
        if a.status == 504 and a.retry_after is not None:
            problems.append(f"504 with Retry-After for {a.kind} {a.descricao}")
        if a.kind == "t" and a.status in (422, 503) and a.descricao in stored:
            problems.append(f"transaction {a.descricao} answered {a.status} but stored")
    return problems


def replay_problems(answers):
    """The replay oracle: replaying each client's transactions in id order,
    every acknowledged (200) write must have answered the balance that
    stood right after it."""
    rows = psql("SELECT cliente_id, valor, tipo, descricao FROM transacoes ORDER BY cliente_id, id")
    after, running = {}, {}
    for cid, valor, tipo, descr in rows:
        cid = int(cid)
        running[cid] = running.get(cid, 0) + (int(valor) if tipo == "c" else -int(valor))
        after[descr] = running[cid]
    problems = []
    for a in answers:
        if a.kind == "t" and a.status == 200 and a.body is not None and a.descricao in after:
            if a.body.get("saldo") != after[a.descricao]:
                problems.append(f"transaction {a.descricao} answered saldo {a.body.get('saldo')}, "
                                f"the ledger replays {after[a.descricao]}")
    return problems


def ledger_check(load):
    """The bank ledger check. Returns a list of problems (empty = sound):
    every acknowledged transaction is in the database exactly once, nothing
    is there twice, each balance equals the sum of its transactions, no
    balance is below -limite, no response showed an inconsistency, every
    answer said truly whether money moved (outcome_problems) and every
    acknowledged saldo is the ledger's replay (replay_problems)."""
    problems = []
    rows = psql("SELECT cliente_id, valor, tipo, descricao FROM transacoes")
    seen = {}
    for cid, valor, tipo, descr in rows:
        seen.setdefault(descr, []).append((int(cid), int(valor), tipo))
    for descr, found in seen.items():
        if len(found) > 1:
            problems.append(f"descricao {descr} stored {len(found)} times")
    for a in load.acknowledged():
        found = seen.get(a.descricao)
        if not found:
            problems.append(f"acknowledged transaction {a.descricao} missing from the database")
        elif found[0] != (a.client, a.valor, a.tipo):
            problems.append(f"transaction {a.descricao} stored as {found[0]}")
    sums = psql("SELECT c.id, c.saldo, c.limite, COALESCE(SUM(CASE t.tipo WHEN 'c' THEN t.valor "
                "ELSE -t.valor END), 0) FROM clientes c LEFT JOIN transacoes t ON t.cliente_id = c.id "
                "GROUP BY c.id ORDER BY c.id")
    for cid, saldo, limite, total in sums:
        if int(saldo) != int(total):
            problems.append(f"client {cid}: saldo {saldo} but its transactions sum to {total}")
        if int(saldo) < -int(limite):
            problems.append(f"client {cid}: saldo {saldo} below -{limite}")
    for a in response_inconsistencies(load.answers):
        problems.append(f"inconsistent response for client {a.client}: {a.body}")
    problems += outcome_problems(load.answers, seen)
    problems += replay_problems(load.answers)
    return problems
