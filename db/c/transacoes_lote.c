/*
 * transacoes_lote.c - transacoes_lote_c(): the round trip's batch call of
 * db/03-procedures.sql (transacoes_lote) for requests without an
 * Idempotency-Key, written against PostgreSQL's table access methods
 * instead of SQL.
 *
 * Why C. Counted with callgrind (PostgreSQL 15, this schema), the PL/pgSQL
 * transacoes_lote costs about 470,000 instructions per call before its
 * first request and 58,000 per request, and transacao() 236,000 for one
 * request: most of it is starting and ending the executor for its SQL
 * statements (the locking SELECT's aggregate, sort and subquery nodes, two
 * ModifyTable nodes). Each round trip's commit holds the five hot rows'
 * locks until its WAL flush, so that time is paid serially, batch after
 * batch; this function does the same work with one index probe per
 * distinct client, a tuple lock on those it will change, one update per
 * changed client and one insert per applied transaction.
 *
 * The contract is transacoes_lote's for p_chaves NULL (same arguments but
 * the keys, same result rows and statuses 0-2), and the same guarantees:
 *  - clients are visited once each, in ascending id order (no deadlock
 *    between two batches): each one's latest committed version is found
 *    and, if one of its requests would apply, locked (FOR UPDATE's lock
 *    mode, following its update chain, as READ COMMITTED's SELECT ... FOR
 *    UPDATE does) until commit, its requests then settled on the locked
 *    version; a client none of whose requests would apply is not locked
 *    (its refusals rest on the latest committed balance, as a refused
 *    conditional UPDATE's do), so a batch of refusals writes no WAL and
 *    its commit waits for no flush. Per client this is a serial order
 *    (the refusal before a lock holder that has not written yet); across
 *    clients one answer may mix balances from before and after another
 *    batch, which READ COMMITTED allows and no client's invariant sees;
 *  - it runs as one statement of its own (a command id and a snapshot of
 *    its own, as SPI gives each statement of a PL/pgSQL function);
 *  - the time of every transaction of the batch is read once, after the
 *    locks are held;
 *  - balances and transactions are written through the executor's
 *    single-row helpers (ExecSimpleRelationUpdate/Insert, those of logical
 *    replication's apply): the tables' CHECK and NOT NULL constraints are
 *    enforced and their indexes maintained, and heapam writes the WAL;
 *  - ids come from the transacoes identity sequence, in request order,
 *    and tipo and descricao are coerced to char(n) and varchar(n) as an
 *    INSERT would (trailing spaces past n trimmed, anything else an error).
 * It is stricter than the PL/pgSQL function in one way: a NULL anywhere in
 * the arguments is an error (PL/pgSQL answers status 2 for a NULL client
 * id, for one); the replicas never send one.
 * It refuses (an error: the transaction rolls back) what it does not
 * handle: triggers on either table, and isolation levels above READ
 * COMMITTED; row-level security; a transacoes with columns it does not
 * fill; and, as the executor would, read-only transactions and a standby.
 * It requires every table privilege the SQL statements need (SELECT and
 * UPDATE on clientes, INSERT on transacoes), at table level.
 * tests/integration/test_lote_c.py compares it with transacoes_lote on
 * random batches and tests each refusal.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/dependency.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/sequence.h"
#include "common/int.h"
#include "executor/executor.h"
#include "fmgr.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "parser/parsetree.h"
#include "storage/lmgr.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "tables.h"

PG_MODULE_MAGIC;

/* The name errors give. */
#define FN "transacoes_lote_c"

void _PG_init(void);

/*
 * The identity sequence of transacoes.id, per backend: finding it
 * (getIdentitySequence, a pg_depend scan) cost a tenth of a four-request
 * call. Forgotten whenever the relation cache drops that table (ALTER,
 * DROP, or a cache reset), so a recreated table is looked up again.
 */
static struct {
    Oid table;
    Oid seq;
} identity_cache;

static void forget_identity(Datum arg, Oid relid)
{
    (void)arg;
    if (relid == InvalidOid || relid == identity_cache.table)
        identity_cache.table = identity_cache.seq = InvalidOid;
}

void _PG_init(void)
{
    CacheRegisterRelcacheCallback(forget_identity, (Datum)0);
}

static Oid identity_sequence(Oid table, AttrNumber attnum)
{
    if (identity_cache.table != table) {
        identity_cache.seq = getIdentitySequence(table, attnum, false);
        identity_cache.table = table;
    }
    return identity_cache.seq;
}

/* The result's status codes (transacoes_lote's; api/src/db_batch.c). */
#define STATUS_APPLIED 0
#define STATUS_REFUSED 1
#define STATUS_NO_CLIENT 2

/* One request of the batch, as decoded from the arrays. */
typedef struct {
    int32 cliente;
    int64 valor;
    char tipo;
    Datum descricao;
} pedido_t;

/* One distinct client of the batch. */
typedef struct {
    int32 id;
    bool found;
    bool locked; /* only a client with a request that applies is locked */
    int64 saldo; /* as found, then as locked */
    int64 limite;
    int64 novo;           /* after the batch's requests */
    TupleTableSlot *slot; /* the version found, then the locked one */
} cliente_t;

/* Column numbers (0-based) of the tables, found by name. */
typedef struct {
    int id, saldo, limite;
} clientes_cols_t;
typedef struct {
    int id, cliente_id, valor, tipo, descricao, realizada_em;
    int32 tipo_typmod, descricao_typmod; /* char(n), varchar(n) */
} transacoes_cols_t;

/* One table opened for writing: what the executor's helpers need. */
typedef struct {
    Relation rel;
    ResultRelInfo *rri;
} alvo_t;

/* ---- arguments --------------------------------------------------------- */

static int deconstruct_1d(ArrayType *a, Oid elemtype, int16 elmlen, bool byval, char align, Datum **elems,
                          const char *what)
{
    bool *nulls;
    int n;
    if (ARR_NDIM(a) > 1)
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("transacoes_lote_c: %s must have one dimension", what)));
    deconstruct_array(a, elemtype, elmlen, byval, align, elems, &nulls, &n);
    for (int i = 0; i < n; i++)
        if (nulls[i])
            ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
                            errmsg("transacoes_lote_c: %s may not hold NULL", what)));
    return n;
}

/* The four arrays into requests, checked as transacoes_lote checks them. */
static int decode_pedidos(FunctionCallInfo fcinfo, pedido_t **out)
{
    Datum *clientes, *valores, *descricoes;
    int n, nv, nd;
    text *tipos;
    const char *t;

    for (int i = 0; i < 4; i++)
        if (PG_ARGISNULL(i))
            ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
                            errmsg("transacoes_lote_c: argument %d is NULL", i + 1)));
    n = deconstruct_1d(PG_GETARG_ARRAYTYPE_P(0), INT4OID, 4, true, TYPALIGN_INT, &clientes, "p_clientes");
    nv = deconstruct_1d(PG_GETARG_ARRAYTYPE_P(1), INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE, &valores,
                        "p_valores");
    nd = deconstruct_1d(PG_GETARG_ARRAYTYPE_P(3), TEXTOID, -1, false, TYPALIGN_INT, &descricoes,
                        "p_descricoes");
    tipos = PG_GETARG_TEXT_PP(2);
    if (nv != n || nd != n || VARSIZE_ANY_EXHDR(tipos) != (Size)n)
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("transacoes_lote_c: arguments of different lengths")));
    t = VARDATA_ANY(tipos);
    *out = palloc(sizeof(pedido_t) * (n > 0 ? n : 1));
    for (int i = 0; i < n; i++) {
        pedido_t *p = &(*out)[i];
        p->cliente = DatumGetInt32(clientes[i]);
        p->valor = DatumGetInt64(valores[i]);
        p->tipo = t[i];
        p->descricao = descricoes[i];
        if ((p->tipo != 'c' && p->tipo != 'd') || p->valor <= 0)
            ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                            errmsg("transacoes_lote_c: tipo must be c or d and valor positive")));
    }
    return n;
}

/* ---- the tables -------------------------------------------------------- */

/* Refuses a table with more columns than the `n` this function fills: an
 * INSERT would give them their defaults, this function cannot. */
static void only_columns(Relation rel, int n)
{
    TupleDesc desc = RelationGetDescr(rel);
    int live = 0;
    for (int i = 0; i < desc->natts; i++)
        live += !TupleDescAttr(desc, i)->attisdropped;
    if (live != n)
        ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                        errmsg("transacoes_lote_c: table \"%s\" has %d columns, not the %d it fills",
                               RelationGetRelationName(rel), live, n)));
}

/* Opens a table for this call's writes, as the executor's ModifyTable
 * would: a range-table entry (the constraint checks' error messages read
 * it), a ResultRelInfo and its open indexes. */
static alvo_t open_target(Oid relid, Index rtindex)
{
    alvo_t t;
    t.rel = table_open(relid, RowExclusiveLock);
    if (t.rel->trigdesc != NULL)
        ereport(ERROR,
                (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                 errmsg("transacoes_lote_c: table \"%s\" has triggers, which this function does not fire",
                        RelationGetRelationName(t.rel))));
    t.rri = makeNode(ResultRelInfo);
    InitResultRelInfo(t.rri, t.rel, rtindex, NULL, 0);
    ExecOpenIndices(t.rri, false);
    return t;
}

static void close_target(alvo_t *t)
{
    ExecCloseIndices(t->rri);
    table_close(t->rel, NoLock); /* the row-exclusive lock lasts until commit */
}

static RangeTblEntry *rte_for(Oid relid)
{
    RangeTblEntry *rte = makeNode(RangeTblEntry);
    rte->rtekind = RTE_RELATION;
    rte->relid = relid;
    rte->relkind = RELKIND_RELATION;
    rte->rellockmode = RowExclusiveLock;
    return rte;
}

/* ---- finding and locking ---------------------------------------------- */

static int compare_int32(const void *a, const void *b)
{
    int32 x = *(const int32 *)a, y = *(const int32 *)b;
    return (x > y) - (x < y);
}

/* The batch's distinct clients, in ascending id order. */
static int distinct_clientes(const pedido_t *p, int n, cliente_t **out)
{
    int32 *ids = palloc(sizeof(int32) * (n > 0 ? n : 1));
    int m = 0;
    for (int i = 0; i < n; i++)
        ids[i] = p[i].cliente;
    qsort(ids, n, sizeof(int32), compare_int32);
    *out = palloc0(sizeof(cliente_t) * (n > 0 ? n : 1));
    for (int i = 0; i < n; i++)
        if (m == 0 || ids[i] != (*out)[m - 1].id)
            (*out)[m++].id = ids[i];
    pfree(ids);
    return m;
}

/* saldo and limite of the version in c->slot; false if it is not client
 * c->id any more (an UPDATE of the key), as the SQL query's recheck would
 * find. */
static bool read_cliente(const clientes_cols_t *col, cliente_t *c)
{
    bool isnull;
    if (DatumGetInt32(slot_getattr(c->slot, col->id + 1, &isnull)) != c->id || isnull)
        return false;
    c->saldo = DatumGetInt64(slot_getattr(c->slot, col->saldo + 1, &isnull));
    if (isnull)
        elog(ERROR, "transacoes_lote_c: client %d has a NULL saldo", c->id);
    c->limite = DatumGetInt64(slot_getattr(c->slot, col->limite + 1, &isnull));
    if (isnull)
        elog(ERROR, "transacoes_lote_c: client %d has a NULL limite", c->id);
    c->novo = c->saldo;
    return true;
}

/*
 * Finds client c->id's latest committed version through its unique index,
 * without locking it: a dirty snapshot sees the newest version, and a
 * version that an unfinished transaction inserted or replaced is waited
 * for and looked up again (as logical replication's apply does,
 * execReplication.c). A lock alone is not waited for: what its holder has
 * not written yet is not there to be seen.
 *
 * A dirty index scan can miss a row that exists: it copies the leaf's
 * matching entries, and if an update elsewhere adds a new entry (not HOT)
 * and commits before the old version is fetched, the old one is no longer
 * visible and the new one was never among the entries (a known race of
 * dirty btree scans, execReplication.c's too). So a miss is looked up once
 * more with the statement's own snapshot; a row found that way must be
 * locked to learn its latest version: the function then returns true.
 */
static bool find_latest(Relation rel, Relation pkey, const clientes_cols_t *col, cliente_t *c)
{
    bool must_lock = false;
    ScanKeyData key;
    IndexScanDesc scan;
    SnapshotData dirty;

    InitDirtySnapshot(dirty);
    c->slot = table_slot_create(rel, NULL);
    scan = rinha_scan_int4_eq(rel, pkey, &dirty, &key, c->id);
    for (;;) {
        TransactionId xwait;
        c->found = index_getnext_slot(scan, ForwardScanDirection, c->slot);
        if (!c->found)
            break;
        xwait = TransactionIdIsValid(dirty.xmin) ? dirty.xmin : dirty.xmax;
        if (!TransactionIdIsValid(xwait))
            break;
        XactLockTableWait(xwait, rel, &c->slot->tts_tid, XLTW_FetchUpdated);
        index_rescan(scan, &key, 1, NULL, 0);
    }
    index_endscan(scan);
    if (!c->found) {
        scan = rinha_scan_int4_eq(rel, pkey, GetActiveSnapshot(), &key, c->id);
        c->found = must_lock = index_getnext_slot(scan, ForwardScanDirection, c->slot);
        index_endscan(scan);
    }
    if (c->found)
        c->found = read_cliente(col, c);
    return must_lock;
}

/*
 * Locks the version found, or the newest one its update chain leads to,
 * waiting for any transaction that holds it: READ COMMITTED's SELECT ...
 * FOR UPDATE (nodeLockRows.c: table_tuple_lock, FOR UPDATE's lock mode,
 * following the chain). saldo and limite are then read from the locked
 * version; a deleted one counts as no client.
 */
static void lock_found(Relation rel, const clientes_cols_t *col, cliente_t *c)
{
    TM_FailureData tmfd;
    TM_Result res =
        table_tuple_lock(rel, &c->slot->tts_tid, GetActiveSnapshot(), c->slot, GetCurrentCommandId(true),
                         LockTupleExclusive, LockWaitBlock, TUPLE_LOCK_FLAG_FIND_LAST_VERSION, &tmfd);
    switch (res) {
    case TM_Ok:
        c->locked = true;
        c->found = read_cliente(col, c);
        return;
    case TM_Deleted:
        c->found = false;
        return;
    default:
        elog(ERROR, "transacoes_lote_c: unexpected result %d locking client %d", (int)res, c->id);
    }
}

static cliente_t *find_cliente(cliente_t *c, int m, int32 id)
{
    int lo = 0, hi = m - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        if (c[mid].id == id)
            return &c[mid];
        if (c[mid].id < id)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return NULL; /* not reached: every request's client is in the list */
}

/* ---- writes ------------------------------------------------------------ */

/* The balance of a locked client whose requests changed it, built in
 * `novo` (a slot of clientes, reused from one client to the next). */
static void write_saldo(EState *estate, alvo_t *t, const clientes_cols_t *col, cliente_t *c,
                        TupleTableSlot *novo)
{
    slot_getallattrs(c->slot);
    ExecClearTuple(novo);
    memcpy(novo->tts_values, c->slot->tts_values, sizeof(Datum) * novo->tts_tupleDescriptor->natts);
    memcpy(novo->tts_isnull, c->slot->tts_isnull, sizeof(bool) * novo->tts_tupleDescriptor->natts);
    novo->tts_values[col->saldo] = Int64GetDatum(c->novo);
    ExecStoreVirtualTuple(novo);
    ExecSimpleRelationUpdate(t->rri, estate, NULL, c->slot, novo);
}

static void insert_transacao(EState *estate, alvo_t *t, const transacoes_cols_t *col, Oid seq,
                             TupleTableSlot *slot, const pedido_t *p, TimestampTz agora)
{
    int natts = slot->tts_tupleDescriptor->natts;
    /* Coerced to the columns' lengths as an INSERT's assignment would:
     * char(n) padded; varchar(n) trimmed of trailing spaces past n, an
     * error for anything else past n. */
    Datum tipo = DirectFunctionCall3(bpchar, PointerGetDatum(cstring_to_text_with_len(&p->tipo, 1)),
                                     Int32GetDatum(col->tipo_typmod), BoolGetDatum(false));
    Datum descricao =
        DirectFunctionCall3(varchar, p->descricao, Int32GetDatum(col->descricao_typmod), BoolGetDatum(false));
    ExecClearTuple(slot);
    memset(slot->tts_isnull, true, sizeof(bool) * natts);
    /* As the identity default does: no privilege on the sequence needed. */
    slot->tts_values[col->id] = Int64GetDatum(nextval_internal(seq, false));
    slot->tts_values[col->cliente_id] = Int32GetDatum(p->cliente);
    slot->tts_values[col->valor] = Int64GetDatum(p->valor);
    slot->tts_values[col->tipo] = tipo;
    slot->tts_values[col->descricao] = descricao;
    slot->tts_values[col->realizada_em] = TimestampTzGetDatum(agora);
    slot->tts_isnull[col->id] = slot->tts_isnull[col->cliente_id] = slot->tts_isnull[col->valor] = false;
    slot->tts_isnull[col->tipo] = slot->tts_isnull[col->descricao] = slot->tts_isnull[col->realizada_em] =
        false;
    ExecStoreVirtualTuple(slot);
    ExecSimpleRelationInsert(t->rri, estate, slot);
}

/* ---- the call ---------------------------------------------------------- */

/* Applies request p to a running balance, as transacoes_lote does: a
 * credit only if the bigint balance cannot overflow, a debit only if it
 * keeps saldo >= -limite. Returns the status. */
static int apply(int64 *novo, int64 limite, const pedido_t *p)
{
    int64 depois, piso;
    if (p->tipo == 'c') {
        if (pg_add_s64_overflow(*novo, p->valor, &depois))
            return STATUS_REFUSED;
    } else if (pg_sub_s64_overflow(*novo, p->valor, &depois) || pg_sub_s64_overflow(0, limite, &piso) ||
               depois < piso) {
        return STATUS_REFUSED;
    }
    *novo = depois;
    return STATUS_APPLIED;
}

/* Whether any of the batch's requests for client c would apply to the
 * version found: only then is the client locked. A batch whose requests
 * are all refused locks and writes nothing, so its transaction has no id
 * and its commit waits for no WAL flush, as a refused transacao() UPDATE
 * did not. */
static bool any_applies(const cliente_t *c, const pedido_t *p, int n)
{
    int64 novo = c->saldo;
    for (int i = 0; i < n; i++)
        if (p[i].cliente == c->id && apply(&novo, c->limite, &p[i]) == STATUS_APPLIED)
            return true;
    return false;
}

PG_FUNCTION_INFO_V1(transacoes_lote_c);

Datum transacoes_lote_c(PG_FUNCTION_ARGS)
{
    ReturnSetInfo *rsinfo = (ReturnSetInfo *)fcinfo->resultinfo;
    pedido_t *pedidos;
    cliente_t *clientes;
    int n, m;
    Oid nsp, clientes_oid, transacoes_oid, seq;
    EState *estate;
    alvo_t tc, tt;
    Relation pkey;
    AttrNumber id_key; /* the unique index clients are found by: on id alone */
    clientes_cols_t cc;
    transacoes_cols_t tcol;
    TimestampTz agora;
    TupleTableSlot *upd, *ins;
    int *status;

    /* What the executor checks before any plan that writes. */
    PreventCommandIfReadOnly("transacoes_lote_c()");
    PreventCommandIfParallelMode("transacoes_lote_c()");
    PreventCommandDuringRecovery("transacoes_lote_c()");
    if (IsolationUsesXactSnapshot())
        ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                        errmsg("transacoes_lote_c runs only in READ COMMITTED transactions")));
    n = decode_pedidos(fcinfo, &pedidos);
    InitMaterializedSRF(fcinfo, 0);
    /* A statement of its own, as SPI runs each of a PL/pgSQL function's:
     * a new command id and a new snapshot, so that a second call in the
     * same query (two in FROM, LATERAL) sees what the first wrote instead
     * of finding the rows it updated as "modified by this command". */
    CommandCounterIncrement();
    PushActiveSnapshot(GetTransactionSnapshot());

    nsp = get_func_namespace(fcinfo->flinfo->fn_oid);
    clientes_oid = rinha_table_oid(FN, nsp, "clientes", ACL_SELECT | ACL_UPDATE);
    transacoes_oid = rinha_table_oid(FN, nsp, "transacoes", ACL_INSERT);

    estate = CreateExecutorState();
    ExecInitRangeTable(estate, list_make2(rte_for(clientes_oid), rte_for(transacoes_oid)));
    estate->es_output_cid = GetCurrentCommandId(true);
    estate->es_snapshot = GetActiveSnapshot();
    tc = open_target(clientes_oid, 1);
    tt = open_target(transacoes_oid, 2);
    cc.id = rinha_column(FN, tc.rel, "id", INT4OID);
    cc.saldo = rinha_column(FN, tc.rel, "saldo", INT8OID);
    cc.limite = rinha_column(FN, tc.rel, "limite", INT8OID);
    tcol.id = rinha_column(FN, tt.rel, "id", INT8OID);
    tcol.cliente_id = rinha_column(FN, tt.rel, "cliente_id", INT4OID);
    tcol.valor = rinha_column(FN, tt.rel, "valor", INT8OID);
    tcol.tipo = rinha_column(FN, tt.rel, "tipo", BPCHAROID);
    tcol.descricao = rinha_column(FN, tt.rel, "descricao", VARCHAROID);
    tcol.realizada_em = rinha_column(FN, tt.rel, "realizada_em", TIMESTAMPTZOID);
    tcol.tipo_typmod = TupleDescAttr(RelationGetDescr(tt.rel), tcol.tipo)->atttypmod;
    tcol.descricao_typmod = TupleDescAttr(RelationGetDescr(tt.rel), tcol.descricao)->atttypmod;
    only_columns(tt.rel, 6);
    seq = identity_sequence(transacoes_oid, (AttrNumber)(tcol.id + 1));

    /* Each distinct client in ascending id order: its latest version, and
     * a lock on it if one of its requests would apply; the balances are
     * then those of the locked versions. */
    id_key = (AttrNumber)(cc.id + 1);
    pkey = rinha_btree_index(FN, tc.rel, &id_key, 1, true, NULL, RowExclusiveLock);
    m = distinct_clientes(pedidos, n, &clientes);
    for (int k = 0; k < m; k++) {
        cliente_t *c = &clientes[k];
        bool must_lock = find_latest(tc.rel, pkey, &cc, c);
        if (c->found && (must_lock || any_applies(c, pedidos, n)))
            lock_found(tc.rel, &cc, c);
        if (!c->locked)
            ExecClearTuple(c->slot); /* its buffer pin would keep the page from being pruned */
    }
    index_close(pkey, NoLock);
    agora = GetCurrentTimestamp();

    /* Settle the requests in order; answer each. */
    status = palloc(sizeof(int) * (n > 0 ? n : 1));
    for (int i = 0; i < n; i++) {
        cliente_t *c = find_cliente(clientes, m, pedidos[i].cliente);
        Datum values[3];
        bool nulls[3] = {false, false, false};
        if (c == NULL || !c->found) {
            status[i] = STATUS_NO_CLIENT;
            nulls[1] = nulls[2] = true;
        } else {
            /* An unlocked client's requests are all refused, as
             * any_applies found on the same version. */
            status[i] = c->locked ? apply(&c->novo, c->limite, &pedidos[i]) : STATUS_REFUSED;
            values[1] = Int64GetDatum(c->novo);
            values[2] = Int64GetDatum(c->limite);
        }
        values[0] = Int32GetDatum(status[i]);
        tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
    }

    /* The balances, then the transactions in request order. */
    upd = table_slot_create(tc.rel, NULL);
    for (int k = 0; k < m; k++)
        if (clientes[k].locked && clientes[k].found && clientes[k].novo != clientes[k].saldo)
            write_saldo(estate, &tc, &cc, &clientes[k], upd);
    ExecDropSingleTupleTableSlot(upd);
    ins = table_slot_create(tt.rel, NULL);
    for (int i = 0; i < n; i++)
        if (status[i] == STATUS_APPLIED)
            insert_transacao(estate, &tt, &tcol, seq, ins, &pedidos[i], agora);
    ExecDropSingleTupleTableSlot(ins);
    for (int k = 0; k < m; k++)
        if (clientes[k].slot != NULL)
            ExecDropSingleTupleTableSlot(clientes[k].slot);

    close_target(&tt);
    close_target(&tc);
    FreeExecutorState(estate);
    PopActiveSnapshot();
    CommandCounterIncrement();
    return (Datum)0;
}
