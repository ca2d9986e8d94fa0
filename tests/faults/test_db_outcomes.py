"""What each answer says about money when the database is slow, stalled or
hard to reach, against the real stack (scripts/faults.sh: DB_TIMEOUT_MS
1000, so the database's statement_timeout is 250 ms and a round trip's
deadline 500 ms).

- a client's row held locked elsewhere: its writes get 503 + Retry-After
  (the database gave up first: rolled back), statement reads still answer,
  and keyed retries never settle anything twice; writes without a key
  (settled by the C batch call) too: 503 only for what was not applied;
- a stalled database backend: the replica answers 504 (outcome unknown,
  no Retry-After); the write may commit after that, and a retry with the
  same Idempotency-Key returns the stored answer instead of moving money
  again; without a key it is stored at most once, the ledger consistent;
- a multi-address conninfo whose first address is dead: the replica
  connects to the next one and then sleeps (no busy loop).
"""

import http.client
import json
import os
import signal
import socket
import subprocess
import threading
import time
import uuid
from collections import Counter

import faultkit as fk

# Must match API_ENV in scripts/faults.sh.
DB_TIMEOUT_S = 1.0
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def report(name, **numbers):
    print(f"\n[{name}] " + " ".join(f"{k}={v}" for k, v in numbers.items()))


def post(conn, client, valor, tipo, descricao, key):
    body = json.dumps({"valor": valor, "tipo": tipo, "descricao": descricao})
    headers = {"Content-Type": "application/json"}
    if key is not None:  # without one the replicas settle it in C (transacoes_lote_c)
        headers["Idempotency-Key"] = key
    t0 = time.monotonic()
    conn.request("POST", f"/clientes/{client}/transacoes", body, headers)
    resp = conn.getresponse()
    raw = resp.read()
    return resp.status, resp.getheader("Retry-After"), resp.getheader("Idempotent-Replayed"), raw, \
        time.monotonic() - t0


def stored(descricao):
    return int(fk.psql(f"SELECT count(*) FROM transacoes WHERE descricao = '{descricao}'")[0][0])


def settle_by_retrying(client, valor, tipo, descricao, key, tries=20):
    """Retries a keyed write until it is settled (200/422). Returns the last
    answer."""
    conn = http.client.HTTPConnection(fk.HOST, fk.PORT, timeout=10)
    try:
        for _ in range(tries):
            answer = post(conn, client, valor, tipo, descricao, key)
            if answer[0] in (200, 422):
                return answer
            time.sleep(0.2)
        return answer
    finally:
        conn.close()


# ------------------------------------------------------------ a held lock


def hold_lock(client, seconds):
    """A second session that locks a client's row for `seconds`."""
    sql = f"BEGIN; SELECT id FROM clientes WHERE id = {client} FOR UPDATE; SELECT pg_sleep({seconds}); COMMIT;"
    return subprocess.Popen(["psql", "-X", "-q", "-h", fk.RUN_DIR, "-U", "rinha", "-d", "rinha", "-c", sql],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def run_while_locked(threads, holder):
    """Runs the load threads to their end, then waits for the lock holder."""
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    holder.wait(30)


def test_locked_client_gets_known_outcomes_and_keyed_retries_settle_once():
    holder = hold_lock(1, 3 * DB_TIMEOUT_S)
    time.sleep(0.3)
    answers, reads, lock = [], [], threading.Lock()

    def writer(w):
        conn = http.client.HTTPConnection(fk.HOST, fk.PORT, timeout=10)
        for i in range(12):
            client = 1 if i % 3 else 2
            descricao = f"L{w:02d}{i:02d}"
            a = post(conn, client, 1 + i, "c", descricao, key=descricao)
            with lock:
                answers.append((client, 1 + i, descricao) + a)
        conn.close()

    def reader():
        conn = http.client.HTTPConnection(fk.HOST, fk.PORT, timeout=10)
        for _ in range(10):
            conn.request("GET", "/clientes/3/extrato")
            resp = conn.getresponse()
            resp.read()
            reads.append(resp.status)
            time.sleep(0.1)
        conn.close()

    run_while_locked([threading.Thread(target=writer, args=(w,)) for w in range(8)] + [threading.Thread(target=reader)],
                     holder)
    by_status = Counter(a[3] for a in answers)
    longest = max(a[7] for a in answers)
    report("locked-client", writes=len(answers), by_status=dict(by_status), reads=reads, longest_s=round(longest, 3))
    assert set(by_status) <= {200, 503, 504}, by_status
    assert by_status.get(503, 0) > 0, "the held lock made no write fail: the test proved nothing"
    assert longest <= DB_TIMEOUT_S + 0.5, f"a write waited {longest:.2f}s, past the replica's deadline"
    assert 200 in reads, "statement reads failed with the writes they shared a round trip with"
    for client, valor, descricao, status, retry_after, _, _, _ in answers:
        if status == 503:
            assert retry_after is not None, descricao
            assert stored(descricao) == 0, f"{descricao} answered 503 (retry) but was applied"
        elif status == 504:
            assert retry_after is None, descricao
    # Clients obey: retry everything unsettled with the same key.
    for client, valor, descricao, status, *_ in answers:
        if status not in (200, 422):
            assert settle_by_retrying(client, valor, "c", descricao, descricao)[0] == 200
    for _, _, descricao, *_ in answers:
        assert stored(descricao) == 1, f"{descricao} stored {stored(descricao)} times"


def ledger_consistent(clients):
    """Each client's balance is the signed sum of its stored history."""
    for c in clients:
        saldo, total = fk.psql(f"SELECT (SELECT saldo FROM clientes WHERE id = {c}), "
                               f"(SELECT coalesce(sum(CASE tipo WHEN 'c' THEN valor ELSE -valor END), 0) "
                               f"FROM transacoes WHERE cliente_id = {c})")[0]
        assert int(saldo) == int(total), (c, saldo, total)


def test_locked_client_unkeyed_writes_get_known_outcomes():
    """The same held lock against writes without an Idempotency-Key (the
    Rinha's), which the replicas settle with the C batch call: its wait for
    the row lock must give way to statement_timeout as the SQL's does, so
    503 only for what was not applied, 200 for what was. (A round trip that
    mixes clients 1 and 2 fails or settles as a whole.)"""
    holder = hold_lock(1, 3 * DB_TIMEOUT_S)
    time.sleep(0.3)
    answers, lock = [], threading.Lock()

    def writer(w):
        conn = http.client.HTTPConnection(fk.HOST, fk.PORT, timeout=10)
        for i in range(10):
            client = 1 if i % 3 else 2
            descricao = "U" + uuid.uuid4().hex[:9]
            a = post(conn, client, 1 + i, "c", descricao, None)
            with lock:
                answers.append((client, descricao) + a)
        conn.close()

    run_while_locked([threading.Thread(target=writer, args=(w,)) for w in range(6)], holder)
    by_status = Counter(a[2] for a in answers)
    report("locked-client-unkeyed", writes=len(answers), by_status=dict(by_status),
           longest_s=round(max(a[6] for a in answers), 3))
    assert set(by_status) <= {200, 503, 504}, by_status
    assert by_status.get(503, 0) > 0, "the held lock made no write fail: the test proved nothing"
    for client, descricao, status, retry_after, *_ in answers:
        if status == 503:
            assert retry_after is not None, descricao
            assert stored(descricao) == 0, f"{descricao} answered 503 (retry) but was applied"
        elif status == 200:
            assert stored(descricao) == 1, f"{descricao} answered 200 but stored {stored(descricao)} times"
        else:
            assert retry_after is None and stored(descricao) in (0, 1), descricao
    ledger_consistent([1, 2])


# ------------------------------------------------------ a stalled backend


def client_backends():
    rows = fk.psql("SELECT pid FROM pg_stat_activity WHERE datname = 'rinha' AND backend_type = 'client backend' "
                   "AND pid <> pg_backend_pid()")
    return [int(r[0]) for r in rows]


def post_while_backends_stall(name, client, valor, tipo, descricao, key):
    """Posts one write while every client backend is stopped (SIGSTOP),
    then resumes them: the answer must be 504 (unknown), without
    Retry-After, within the replica's deadline. Returns its body once both
    replicas serve again."""
    backends = client_backends()
    assert len(backends) >= 2, backends
    conn = http.client.HTTPConnection(fk.HOST, fk.PORT, timeout=10)
    for pid in backends:
        os.kill(pid, signal.SIGSTOP)
    try:
        status, retry_after, _, raw, seconds = post(conn, client, valor, tipo, descricao, key)
    finally:
        for pid in backends:
            os.kill(pid, signal.SIGCONT)
        conn.close()
    report(name, status=status, seconds=round(seconds, 3), body=raw[:60])
    assert status == 504, (status, raw)
    assert retry_after is None, "504 must not invite a blind retry"
    assert seconds <= DB_TIMEOUT_S + 0.5
    assert fk.wait_until(lambda: fk.replica_serves("api01") and fk.replica_serves("api02"), timeout=10)
    return raw


def test_stalled_database_answers_504_and_the_keyed_retry_never_doubles():
    key, descricao = str(uuid.uuid4()), "stall" + uuid.uuid4().hex[:5]
    raw = post_while_backends_stall("stalled-backend", 4, 777, "c", descricao, key)
    assert b"Idempotency-Key" in raw
    # The backend resumes and may well commit what it had received: the
    # answer "unknown" was the truth. A retry with the key settles it once.
    time.sleep(0.3)
    committed_before = stored(descricao)
    status, _, replayed, raw, _ = settle_by_retrying(4, 777, "c", descricao, key)
    report("stalled-backend-retry", committed_before_retry=committed_before, status=status, replayed=replayed)
    assert status == 200, raw
    assert (replayed == "true") == (committed_before == 1)
    assert json.loads(raw) == {"limite": fk.LIMITES[4], "saldo": 777}
    assert stored(descricao) == 1


def test_stalled_database_answers_504_to_an_unkeyed_write_and_keeps_the_ledger():
    """A write without a key (settled by the C batch call) to a stalled
    backend: 504 in time, and whether or not the backend commits it once
    resumed, it is stored at most once and the balance agrees with the
    history."""
    descricao = "stallu" + uuid.uuid4().hex[:4]
    post_while_backends_stall("stalled-backend-unkeyed", 5, 555, "d", descricao, None)
    time.sleep(0.3)
    assert stored(descricao) in (0, 1)
    ledger_consistent([5])


# ------------------------------------------- a dead first address in the conninfo


def test_dead_first_address_connects_to_the_next_and_stays_idle():
    """libpq finds the first address refused (asynchronously: the connect
    is non-blocking), drops its socket and opens one to the next address,
    which gets the same fd number: the replica must follow the new socket,
    not spin on the old one."""
    dead = socket.socket()
    dead.bind(("127.0.0.1", 0))
    dead_port = dead.getsockname()[1]
    dead.close()  # nothing listens there now: connect() is refused
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    listen_port = probe.getsockname()[1]
    probe.close()
    env = dict(os.environ, LISTEN=f"127.0.0.1:{listen_port}", REPLICA_NAME="api-multi",
               DATABASE_URL=f"host=127.0.0.1,{fk.RUN_DIR} port={dead_port},5432 dbname=rinha user=rinha",
               DB_TIMEOUT_MS="1000")
    binary = os.path.join(REPO, "build", "rinha-api-asan")
    log = open(os.path.join(REPO, "var", "log", "api-multi.log"), "w")
    proc = subprocess.Popen([binary], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        def serves():
            try:
                c = http.client.HTTPConnection("127.0.0.1", listen_port, timeout=1)
                c.request("GET", "/clientes/1/extrato")
                ok = c.getresponse().status == 200
                c.close()
                return ok
            except OSError:
                return False

        assert fk.wait_until(serves, timeout=10) is not None, "the replica never served"
        cpu0, t0 = cpu_seconds(proc.pid), time.monotonic()
        time.sleep(2.0)
        busy = (cpu_seconds(proc.pid) - cpu0) / (time.monotonic() - t0)
        report("multi-address", cpu_share=round(busy, 3))
        assert busy < 0.05, f"an idle replica used {busy:.0%} of a CPU"
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(15)
        log.close()


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
