/*
 * tables.h - what the database's C functions share about the tables they
 * reach directly: finding a table beside the calling function, with the
 * checks the executor would have made for a SQL statement, and a column
 * by name and type (never by position, so that a table rebuilt with its
 * columns in another order still works or fails with a clear error).
 * Every error names the function `fn` it was raised for.
 */
#ifndef RINHA_DB_TABLES_H
#define RINHA_DB_TABLES_H

#include "postgres.h"

#include "access/genam.h"
#include "storage/lockdefs.h"
#include "utils/rel.h"

/* The table `name` in schema `nsp`, once the caller is known to hold every
 * privilege of `mode` on it at table level and no row-level security
 * applies (these functions could not enforce it). */
Oid rinha_table_oid(const char *fn, Oid nsp, const char *name, AclMode mode);

/* The 0-based number of column `name` of type `type`; an error otherwise. */
int rinha_column(const char *fn, Relation rel, const char *name, Oid type);

/* The valid, complete (no predicate) btree index of `rel` whose leading
 * key columns are the 1-based `attnums[0..n-1]`, opened with `lockmode`;
 * with `unique`, one whose key is exactly those columns and unique, so
 * that it finds one row. desc[i] (if desc is not NULL) tells whether
 * column i is stored descending. An error if `rel` has none. */
Relation rinha_btree_index(const char *fn, Relation rel, const AttrNumber *attnums, int n, bool unique,
                           bool *desc, LOCKMODE lockmode);

/* An index scan of `idx` (on `rel`, with `snap`) for the entries whose
 * first key column, an integer, equals `value`, positioned before the
 * first of them. `key` (the caller's) holds the scan key, for a rescan. */
IndexScanDesc rinha_scan_int4_eq(Relation rel, Relation idx, Snapshot snap, ScanKey key, int32 value);

#endif
