/*
 * tables.c - the tables' lookups shared by the database's C functions
 * (tables.h).
 */
#include "tables.h"

#include "access/genam.h"
#include "catalog/pg_am.h"
#include "catalog/pg_class.h"
#include "catalog/pg_index.h"
#include "miscadmin.h"
#include "nodes/pg_list.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/rls.h"

Oid rinha_table_oid(const char *fn, Oid nsp, const char *name, AclMode mode)
{
    Oid relid = get_relname_relid(name, nsp);
    if (!OidIsValid(relid))
        ereport(ERROR, (errcode(ERRCODE_UNDEFINED_TABLE),
                        errmsg("%s: table \"%s\" not found beside the function", fn, name)));
    /* ACLMASK_ALL: every privilege asked for (pg_class_aclcheck would
     * accept any one of them). */
    if (pg_class_aclmask(relid, GetUserId(), mode, ACLMASK_ALL) != mode)
        aclcheck_error(ACLCHECK_NO_PRIV, OBJECT_TABLE, name);
    if (check_enable_rls(relid, InvalidOid, false) == RLS_ENABLED)
        ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                        errmsg("%s: row-level security on \"%s\" is not supported", fn, name)));
    return relid;
}

int rinha_column(const char *fn, Relation rel, const char *name, Oid type)
{
    TupleDesc desc = RelationGetDescr(rel);
    for (int i = 0; i < desc->natts; i++) {
        Form_pg_attribute a = TupleDescAttr(desc, i);
        if (!a->attisdropped && strcmp(NameStr(a->attname), name) == 0) {
            if (a->atttypid != type)
                break;
            return i;
        }
    }
    ereport(ERROR, (errcode(ERRCODE_UNDEFINED_COLUMN),
                    errmsg("%s: %s.%s of type %s not found", fn, RelationGetRelationName(rel), name,
                           format_type_be(type))));
    return -1; /* not reached */
}

/* Whether index `idx` is one rinha_btree_index looks for. */
static bool btree_fits(Relation idx, const AttrNumber *attnums, int n, bool unique)
{
    Form_pg_index ix = idx->rd_index;
    if (idx->rd_rel->relam != BTREE_AM_OID || !ix->indisvalid || ix->indnkeyatts < n ||
        RelationGetIndexPredicate(idx) != NIL)
        return false;
    if (unique && (!ix->indisunique || ix->indnkeyatts != n))
        return false;
    for (int i = 0; i < n; i++)
        if (ix->indkey.values[i] != attnums[i]) /* 0 is an expression: never a match */
            return false;
    return true;
}

Relation rinha_btree_index(const char *fn, Relation rel, const AttrNumber *attnums, int n, bool unique,
                           bool *desc, LOCKMODE lockmode)
{
    List *indexes = RelationGetIndexList(rel);
    ListCell *lc;
    foreach (lc, indexes) {
        Relation idx = index_open(lfirst_oid(lc), lockmode);
        if (btree_fits(idx, attnums, n, unique)) {
            for (int i = 0; desc != NULL && i < n; i++)
                desc[i] = (idx->rd_indoption[i] & INDOPTION_DESC) != 0;
            list_free(indexes);
            return idx;
        }
        index_close(idx, NoLock); /* as the executor would: the lock lasts until the transaction ends */
    }
    list_free(indexes);
    ereport(ERROR, (errcode(ERRCODE_UNDEFINED_OBJECT),
                    errmsg("%s: table \"%s\" has no %sbtree index on the columns it needs", fn,
                           RelationGetRelationName(rel), unique ? "unique " : "")));
    return NULL; /* not reached */
}

IndexScanDesc rinha_scan_int4_eq(Relation rel, Relation idx, Snapshot snap, ScanKey key, int32 value)
{
    IndexScanDesc scan = index_beginscan(rel, idx, snap, 1, 0);
    ScanKeyInit(key, 1, BTEqualStrategyNumber, F_INT4EQ, Int32GetDatum(value));
    index_rescan(scan, key, 1, NULL, 0);
    return scan;
}
