#!/usr/bin/python3
"""Fuzz the decoders of clv_state, the transition type of clv's aggregates.

A flat clv_state (see src/state_type.c) is "CLVS", a u16 format version, a
u8 family, a u8 byte order and the CRC-32C of the payload, then the family's
payload; its text form is base64.  Citus ships partial states between
servers as that text, so every decoder must turn malformed bytes into a
clean error (22P03 mostly, 42804 for a state of another aggregate, 54000
for limits): never a crash, a hang or an internal error (XX000).

For every family the script builds valid seed states from small data (with
and without options, one row, several groups), then until the time budget
(CLV_FUZZ_SECONDS, default 60) runs out mutates them with a seeded RNG
(CLV_FUZZ_SEED, printed): truncations, extensions, bit flips, interesting
bytes and 4- and 8-byte values at every offset, header changes, splices
between families.  The CRC is recomputed over the mutated payload, so the
mutants reach the family decoders, except for a share whose payload changed
and whose CRC was left alone: those must always be rejected.  Each mutant
goes through the type input, binary receive (COPY BINARY from a file), the
combine and final functions (alone and after a valid state), and as the
INITCOND of its own and of another family's transition function, and of
another family's final function.

One TAP line per family: mutants tried and a histogram of the outcomes.
"not ok" with the mutant in hex for a crash, a hang (statement_timeout), an
XX000, a mutant accepted without a valid checksum, or a state accepted by a
support function of another family.  After every batch the server must be
up, with the same postmaster and no backend killed by a signal in its log
(CLV_PGLOG as test/run.sh passes it, else the file test/lib.sh uses).
"""

import base64
import collections
import os
import random
import struct
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "test", "reference"))
import _pg  # noqa: E402  (the repository's psql helpers)

HEADER = 12
LINREG_FAMILY = 2                   # clv_linreg_fit's, which clv_linreg_stats returns
MAGIC = b"CLVS"
N_FAMILIES = 14
FAMILY_NAMES = {1: "summary", 2: "linreg", 3: "logreg", 4: "btyd", 5: "tracking",
                6: "ranking", 7: "trees", 8: "qini", 9: "kmeans", 10: "allocation",
                11: "threshold", 12: "monitor", 13: "sbg", 14: "btyd_cov"}
STATEMENT_TIMEOUT = "5s"
BATCH = 400                     # at most, mutants per psql session
MAX_REPORTED = 5                # failing mutants shown per family


# ---- CRC-32C (Castagnoli), as PostgreSQL's pg_crc32c ----------------------

def _crc_table():
    table = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_CRC_TABLE = _crc_table()


def crc32c(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc = _CRC_TABLE[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def with_crc(state):
    """The state with the header's checksum recomputed over its payload."""
    if len(state) < HEADER:
        return state
    return state[:8] + struct.pack(">I", crc32c(state[HEADER:])) + state[HEADER:]


# ---- seeds ------------------------------------------------------------------

# name, family, argument types, arguments (over clv_fuzz.rows r, or
# clv_fuzz.cbs for the BTYD fits), transition and final function, rows.
SEEDS = [
    ("summary", 1, "timestamptz, float8, timestamptz",
     "ordered_at, amount, '1997-12-31'::timestamptz", "clv_summary_trans", "clv_summary_final",
     "rows", "cust = 0"),
    ("summary_units", 1, "timestamptz, float8, timestamptz, interval, interval, timestamptz",
     "ordered_at, amount, '1997-12-31'::timestamptz, '7 days'::interval, '7 days'::interval, "
     "'1996-12-30'::timestamptz", "clv_summary_trans", "clv_summary_final", "rows", "cust = 1"),
    ("summary_holdout", 1, "timestamptz, float8, timestamptz, timestamptz",
     "ordered_at, amount, '1997-06-30'::timestamptz, '1997-12-31'::timestamptz",
     "clv_summary_holdout_trans", "clv_summary_holdout_final", "rows", "cust = 0"),
    ("summary_one", 1, "timestamptz, float8, timestamptz",
     "ordered_at, amount, '1997-12-31'::timestamptz", "clv_summary_trans", "clv_summary_final",
     "rows", "i = 5"),
    ("linreg", 2, "float8, float8[]", "y, x", "clv_linreg_fit_trans", "clv_linreg_fit_final",
     "rows", "true"),
    ("linreg_options", 2, "float8, float8[], jsonb",
     "y, x, '{\"l2\": 0.5, \"features\": [\"a\", \"b\", \"c\"]}'::jsonb",
     "clv_linreg_fit_trans", "clv_linreg_fit_final", "rows", "true"),
    ("linreg_one", 2, "float8, float8[]", "y, x", "clv_linreg_fit_trans", "clv_linreg_fit_final",
     "rows", "i = 3"),
    ("logreg", 3, "boolean, float8[]", "yb, x", "clv_logreg_fit_trans", "clv_logreg_fit_final",
     "rows", "true"),
    ("logreg_options", 3, "boolean, float8[], jsonb",
     "yb, x, '{\"l2\": 1, \"max_iter\": 30, \"features\": [\"a\", \"b\", \"c\"]}'::jsonb",
     "clv_logreg_fit_trans", "clv_logreg_fit_final", "rows", "true"),
    ("logreg_one", 3, "boolean, float8[]", "yb, x", "clv_logreg_fit_trans",
     "clv_logreg_fit_final", "rows", "i = 4"),
    ("bgnbd", 4, "float8, float8, float8", "x, t_x, t_cal", "clv_bgnbd_fit_trans",
     "clv_btyd_fit_final", "cbs", "true"),
    ("bgnbd_options", 4, "float8, float8, float8, jsonb",
     "x, t_x, t_cal, '{\"max_iter\": 200, \"start\": [0.3, 5, 0.8, 2.5]}'::jsonb",
     "clv_bgnbd_fit_trans", "clv_btyd_fit_final", "cbs", "true"),
    ("mbgnbd", 4, "float8, float8, float8", "x, t_x, t_cal", "clv_mbgnbd_fit_trans",
     "clv_btyd_fit_final", "cbs", "true"),
    ("paretonbd", 4, "float8, float8, float8", "x, t_x, t_cal", "clv_paretonbd_fit_trans",
     "clv_btyd_fit_final", "cbs", "true"),
    ("gammagamma", 4, "float8, float8", "x, m_x", "clv_gammagamma_fit_trans",
     "clv_btyd_fit_final", "cbs", "x > 0"),
    ("bgnbd_cov", 14, "float8, float8, float8, float8[], float8[]",
     "x, t_x, t_cal, ARRAY[(x::int % 2)::float8], ARRAY[t_cal / 40]", "clv_bgnbd_cov_fit_trans",
     "clv_btyd_cov_fit_final", "cbs", "true"),
    ("paretonbd_cov_options", 14, "float8, float8, float8, float8[], float8[], jsonb",
     "x, t_x, t_cal, ARRAY[(x::int % 2)::float8, t_x / 40], '{}'::float8[], "
     "'{\"l2\": 0.5, \"purchase_features\": [\"odd\", \"late\"]}'::jsonb",
     "clv_paretonbd_cov_fit_trans", "clv_btyd_cov_fit_final", "cbs", "true"),
    ("tracking", 5, "bytea, float8, integer",
     "(SELECT model FROM clv_fuzz.model), acquired, 20", "clv_tracking_trans",
     "clv_tracking_final", "rows", "true"),
    ("tracking_period", 5, "bytea, float8, integer, float8",
     "(SELECT model FROM clv_fuzz.model), acquired, 12, 0.5", "clv_tracking_trans",
     "clv_tracking_final", "rows", "i <= 4"),
    ("auc", 6, "boolean, float8", "yb, score", "clv_auc_trans", "clv_auc_final", "rows", "true"),
    ("gini", 6, "float8, float8", "y, score", "clv_gini_trans", "clv_gini_final", "rows", "true"),
    ("forest", 7, "float8, float8[], jsonb",
     "y, x, '{\"n_trees\": 4, \"max_depth\": 3, \"seed\": 1}'::jsonb",
     "clv_forest_fit_trans", "clv_forest_fit_final", "rows", "true"),
    ("forest_bool", 7, "boolean, float8[], jsonb",
     "yb, x, '{\"n_trees\": 3, \"criterion\": \"entropy\", \"seed\": 2}'::jsonb",
     "clv_forest_fit_trans", "clv_forest_fit_final", "rows", "true"),
    ("gbm", 7, "float8, float8[], jsonb", "y, x, '{\"n_rounds\": 5, \"max_depth\": 2}'::jsonb",
     "clv_gbm_fit_trans", "clv_gbm_fit_final", "rows", "true"),
    ("gbm_one", 7, "boolean, float8[], jsonb", "yb, x, '{\"n_rounds\": 2}'::jsonb",
     "clv_gbm_fit_trans", "clv_gbm_fit_final", "rows", "i = 2"),
    ("qini", 8, "float8, boolean, float8", "score, treated, outcome", "clv_qini_trans",
     "clv_qini_final", "rows", "true"),
    ("kmeans", 9, "float8[], integer", "x, 2", "clv_kmeans_fit_trans", "clv_kmeans_fit_final",
     "rows", "true"),
    ("kmeans_options", 9, "float8[], integer, jsonb",
     "x, 3, '{\"n_init\": 2, \"seed\": 3, \"standardize\": true}'::jsonb",
     "clv_kmeans_fit_trans", "clv_kmeans_fit_final", "rows", "true"),
    ("allocation", 10, "text, float8, float8, float8", "segment, spend, response, 100",
     "clv_allocate_budget_trans", "clv_allocate_budget_final", "rows", "true"),
    ("allocation_options", 10, "text, float8, float8, float8, jsonb",
     "segment, spend, response, 50, '{\"objective\": \"net\"}'::jsonb",
     "clv_allocate_budget_trans", "clv_allocate_budget_final", "rows", "true"),
    ("threshold", 11, "float8, float8, float8", "gain, cost, 20", "clv_budget_threshold_trans",
     "clv_budget_threshold_final", "rows", "true"),
    ("threshold_customers", 11, "float8, float8, float8, bigint", "gain, cost, 20, customer",
     "clv_budget_threshold_trans", "clv_budget_threshold_final", "rows", "true"),
    ("psi", 12, "float8, boolean", "score, yb", "clv_psi_trans", "clv_psi_final", "rows", "true"),
    ("psi_bins", 12, "float8, boolean, integer", "score, yb, 4", "clv_psi_trans",
     "clv_psi_final", "rows", "true"),
    ("calibration", 12, "float8, float8, integer", "score, y, 3", "clv_calibration_trans",
     "clv_calibration_final", "rows", "true"),
    ("sbg", 13, "integer, boolean", "(i % 8) + 1, i % 8 < 3", "clv_sbg_fit_trans", "clv_sbg_fit_final",
     "rows", "true"),
    ("sbg_counts", 13, "integer, boolean, bigint, jsonb",
     "(i % 8) + 1, i % 8 < 3, (i % 4)::bigint, '{\"unit\": \"1 month\", \"max_iter\": 50}'::jsonb",
     "clv_sbg_fit_counts_trans", "clv_sbg_fit_final", "rows", "true"),
]

SETUP_SQL = r"""
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS clv;
DROP SCHEMA IF EXISTS clv_fuzz CASCADE;
CREATE SCHEMA clv_fuzz;
SET search_path = clv_fuzz, public;
CREATE TABLE clv_fuzz.rows AS
SELECT i, i % 3 AS g, i % 2 AS cust,
       2 + 0.5 * (i % 5) - 0.3 * ((i * 7) % 11) + 0.1 * sqrt(i) AS y,
       ARRAY[(i % 5)::float8, ((i * 7) % 11) / 3.0, sqrt(i)] AS x,
       (i * 7) % 5 < 2 AS yb,
       ((i * 37) % 100) / 100.0::float8 AS score,
       i % 2 = 0 AS treated, (i % 3)::float8 AS outcome,
       '1997-01-01'::timestamptz + ((i * 13) % 300) * interval '1 day' AS ordered_at,
       (5 + i)::float8 AS amount, (i % 10)::float8 AS acquired,
       'seg' || (i % 3) AS segment, ((i / 3) * 10)::float8 AS spend,
       10 * sqrt((i / 3) * 10) AS response,
       ((i % 7) + 1)::float8 AS gain, ((i % 5) + 1)::float8 AS cost, (i / 2)::bigint AS customer
FROM generate_series(1, 24) i;
\set cbs clv_fuzz.cdnow
\i test/data/cdnow_cbs.sql
CREATE TABLE clv_fuzz.cbs AS
SELECT row_number() OVER (ORDER BY cust) AS i, (cust % 3) AS g, x::float8 AS x, t_x, t_cal,
       CASE WHEN x > 0 THEN m_x ELSE 10 END AS m_x
FROM clv_fuzz.cdnow WHERE cust % 25 = 1;
CREATE TABLE clv_fuzz.model AS SELECT clv_bgnbd_fit(x, t_x, t_cal) AS model FROM clv_fuzz.cbs;
CREATE TABLE clv_fuzz.recv (s clv_state);

CREATE TABLE clv_fuzz.seeds (name text PRIMARY KEY, family int, argtypes text, args text,
                             transfn text, finalfn text, source text, filter text,
                             modify text);

-- the outcome of a query given the state $1 (text): 'ok' or the SQLSTATE
CREATE FUNCTION clv_fuzz.outcome(q text, b64 text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE r text;
BEGIN
    EXECUTE q INTO r USING b64;
    RETURN 'ok';
EXCEPTION WHEN query_canceled THEN
    RETURN '57014';       -- statement_timeout
WHEN OTHERS THEN
    RETURN SQLSTATE;
END $$;

-- the outcome of COPY BINARY of a file: the type's receive function
CREATE FUNCTION clv_fuzz.copy_outcome(path text) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('COPY clv_fuzz.recv FROM %L (FORMAT binary)', path);
    RETURN 'ok';
EXCEPTION WHEN query_canceled THEN
    RETURN '57014';       -- statement_timeout
WHEN OTHERS THEN
    RETURN SQLSTATE;
END $$;

-- the state as the initial value of seed s's aggregate over its first
-- rows, or (combine) of an aggregate that combines it with seed s's state
CREATE FUNCTION clv_fuzz.init_outcome(s clv_fuzz.seeds, b64 text, combine boolean DEFAULT false)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE r text; res text;
BEGIN
    BEGIN
        IF combine THEN
            EXECUTE format('CREATE AGGREGATE clv_fuzz.init_agg(clv_state) (SFUNC = clv_state_combine, '
                           'STYPE = clv_state, INITCOND = %L, FINALFUNC = %s, FINALFUNC_MODIFY = %s)',
                           b64, s.finalfn, s.modify);
            EXECUTE 'SELECT md5(clv_fuzz.init_agg(v::clv_state)::text) FROM clv_fuzz.valid WHERE name = $1'
                INTO r USING s.name;
        ELSE
            EXECUTE format('CREATE AGGREGATE clv_fuzz.init_agg(%s) (SFUNC = %s, STYPE = clv_state, '
                           'INITCOND = %L, FINALFUNC = %s, FINALFUNC_MODIFY = %s)',
                           s.argtypes, s.transfn, b64, s.finalfn, s.modify);
            EXECUTE format('SELECT md5(clv_fuzz.init_agg(%s)::text) FROM (SELECT * FROM clv_fuzz.%I '
                           'WHERE %s ORDER BY i LIMIT 5) r', s.args, s.source, s.filter) INTO r;
        END IF;
        res := 'ok';
        RAISE EXCEPTION 'undo' USING ERRCODE = 'ZF000';
    EXCEPTION WHEN query_canceled THEN
        res := '57014';
    WHEN OTHERS THEN
        IF SQLSTATE <> 'ZF000' THEN res := SQLSTATE; END IF;
    END;
    RETURN res;
END $$;

-- Every path for one mutant: input, binary receive (from file recv, if
-- given), combine and final alone, after and before the valid state, INITCOND
-- of the seed's aggregate and of one combining it with the valid state,
-- another family's final and transition function.
-- Past the input, the paths run only for a state the input accepts: every
-- path reads the state through the input function first.
CREATE FUNCTION clv_fuzz.try(id int, seed text, other text, b64 text, recv text)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    s clv_fuzz.seeds; o clv_fuzz.seeds; valid text; res text; q text; r text; k int := 0;
BEGIN
    SELECT * INTO s FROM clv_fuzz.seeds WHERE name = seed;
    SELECT * INTO o FROM clv_fuzz.seeds WHERE name = other;
    SELECT v INTO valid FROM clv_fuzz.valid WHERE name = seed;
    res := 'in=' || clv_fuzz.outcome('SELECT md5($1::clv_state::text)', b64);
    IF recv IS NOT NULL THEN
        res := res || ' recv=' || clv_fuzz.copy_outcome(recv);
    END IF;
    IF res NOT LIKE 'in=ok%' THEN
        RETURN id || ' ' || res;
    END IF;
    -- the paths in turn; after a timeout (the statement's only one) no more
    FOREACH q IN ARRAY ARRAY[
        format('SELECT md5(clv_fuzz.from_%s(s::clv_state)::text) FROM (VALUES ($1)) v(s)',
               s.finalfn),
        format('SELECT md5(clv_fuzz.from_%s(s::clv_state ORDER BY k)::text) '
               'FROM (VALUES (1, %L), (2, $1)) v(k, s)', s.finalfn, valid),
        format('SELECT md5(clv_fuzz.from_%s(s::clv_state ORDER BY k)::text) '
               'FROM (VALUES (2, %L), (1, $1)) v(k, s)', s.finalfn, valid),
        NULL, NULL,
        format('SELECT md5(clv_fuzz.from_%s(s::clv_state)::text) FROM (VALUES ($1)) v(s)',
               o.finalfn),
        NULL,
        -- the functions that read a state outside an aggregate
        'SELECT md5(clv_linreg_fit_stats(s::clv_state, ''{"l2": 1}'')) FROM (VALUES ($1)) v(s)',
        'SELECT clv_linreg_mse(clv_linreg_fit_stats(s::clv_state, ''{"l2": 1}''), s::clv_state)::text '
        'FROM (VALUES ($1)) v(s)']
    LOOP
        k := k + 1;
        r := CASE WHEN q IS NOT NULL THEN clv_fuzz.outcome(q, b64)
                  WHEN k = 4 THEN clv_fuzz.init_outcome(s, b64)
                  WHEN k = 5 THEN clv_fuzz.init_outcome(s, b64, true)
                  ELSE clv_fuzz.init_outcome(o, b64) END;
        res := res || ' ' || (ARRAY['final', 'after', 'before', 'init', 'cinit', 'xfinal',
                                    'xinit', 'fitstats', 'mse'])[k]
               || '=' || r;
        EXIT WHEN r = '57014';
    END LOOP;
    RETURN id || ' ' || res;
END $$;
"""


def seed_sql():
    """Seed rows, their aggregates, and the states as text."""
    out = []
    values = []
    for name, fam, argtypes, args, transfn, finalfn, source, filt in SEEDS:
        values.append("(%s)" % ", ".join(
            _lit(v) for v in (name, str(fam), argtypes, args, transfn, finalfn, source, filt)))
    out.append("INSERT INTO clv_fuzz.seeds (name, family, argtypes, args, transfn, finalfn, "
               "source, filter) VALUES\n  %s;" % ",\n  ".join(values))
    # the final function's FINALFUNC_MODIFY, as the extension's aggregates declare it
    out.append("""UPDATE clv_fuzz.seeds s SET modify = m.modify FROM (
    SELECT DISTINCT ON (aggfinalfn) aggfinalfn::text AS fn,
           CASE aggfinalmodify WHEN 'r' THEN 'READ_ONLY' WHEN 's' THEN 'SHAREABLE'
                ELSE 'READ_WRITE' END AS modify
    FROM pg_aggregate WHERE aggtranstype = 'clv_state'::regtype) m WHERE m.fn = s.finalfn;""")
    for fn in sorted({s[5] for s in SEEDS}):
        out.append("CREATE AGGREGATE clv_fuzz.from_%s(clv_state) (SFUNC = clv_state_combine, "
                   "STYPE = clv_state, FINALFUNC = %s, FINALFUNC_MODIFY = %s);"
                   % (fn, fn, modify_of(fn)))
    for name, fam, argtypes, args, transfn, finalfn, source, filt in SEEDS:
        out.append("CREATE AGGREGATE clv_fuzz.state_%s(%s) (SFUNC = %s, STYPE = clv_state);"
                   % (name, argtypes, transfn))
    # whole states, and states of three groups
    selects = []
    for name, fam, argtypes, args, transfn, finalfn, source, filt in SEEDS:
        selects.append("SELECT %s AS name, -1 AS g, clv_fuzz.state_%s(%s)::text AS v "
                       "FROM clv_fuzz.%s r WHERE %s"
                       % (_lit(name), name, args, source, filt))
        selects.append("SELECT %s, g, clv_fuzz.state_%s(%s)::text FROM clv_fuzz.%s r WHERE %s "
                       "GROUP BY g" % (_lit(name), name, args, source, filt))
    out.append("CREATE TABLE clv_fuzz.states AS\n%s;" % "\nUNION ALL\n".join(selects))
    out.append("CREATE TABLE clv_fuzz.valid AS SELECT name, v FROM clv_fuzz.states WHERE g = -1;")
    return "\n".join(out) + "\n"


_MODIFY = {}


def modify_of(fn):
    return _MODIFY.get(fn, "READ_ONLY")


def _lit(s):
    return "'" + s.replace("'", "''") + "'"


# ---- mutations ---------------------------------------------------------------

INTERESTING_BYTES = [0x00, 0xFF, 0x7F, 0x80, 0x01, 0xFE, 0x40]
SWEEP_BYTES = [0x00, 0xFF, 0x7F, 0x80]
# at every offset: the header's and counts' integers are big-endian, raw
# arrays of doubles in the machine's order
SWEEP_32 = [(">", v) for v in (0, 0x7FFFFFFF, 0xFFFFFFFF, 0x80000000)]
SWEEP_64 = ([(">", v) for v in (0, 0x7FFFFFFFFFFFFFFF, 0xFFFFFFFFFFFFFFFF, 0x8000000000000000,
                                 0x7FFFFFFF, 0xFFFFFFFF)]
            + [(o, struct.unpack(">Q", struct.pack(">d", d))[0])
               for d in (float("nan"), float("-inf"), -1.0, 1e308) for o in "<>"])
INTERESTING_32 = [0, 1, 0x7FFFFFFF, 0xFFFFFFFF, 0x80000000, 0x7FFFFFFE, 0x10000, 0x100]
INTERESTING_64 = [0, 1, 0x7FFFFFFFFFFFFFFF, 0xFFFFFFFFFFFFFFFF, 0x8000000000000000,
                  0x7FFFFFFF, 0xFFFFFFFF, 0x100000000,
                  struct.unpack(">Q", struct.pack(">d", float("nan")))[0],
                  struct.unpack(">Q", struct.pack(">d", float("inf")))[0],
                  struct.unpack(">Q", struct.pack(">d", -0.0))[0],
                  struct.unpack(">Q", struct.pack(">d", 1e308))[0],
                  struct.unpack(">Q", struct.pack(">d", -1.0))[0]]


def put(state, off, value, width, order):
    fmt = {4: "I", 8: "Q"}[width]
    raw = struct.pack(order + fmt, value)
    return state[:off] + raw + state[off + width:]


class Mutator:
    """Mutants of the seeds: first, for each seed, the systematic ones (big
    4- and 8-byte values at every payload offset, every other family id, the
    other header fields), interleaved with random ones."""

    def __init__(self, rng, seeds):
        self.rng = rng
        self.seeds = seeds                  # name -> (family, bytes)
        self.names = sorted(seeds)
        # group states get random mutants only
        self.systematic = {n: self._systematic(n) for n in self.names if "#" not in n}

    def _systematic(self, name):
        fam, st = self.seeds[name]
        for fid in list(range(0, N_FAMILIES + 2)) + [0xFF]:
            if fid != fam:
                yield "family=%d" % fid, st[:6] + bytes([fid]) + st[7:], True
        for version in (0, 2, 0x100, 0xFFFF):
            yield "version=%d" % version, st[:4] + struct.pack(">H", version) + st[6:], True
        for order in (1, 2, 0xFF):
            yield "byte order=%d" % order, st[:7] + bytes([order]) + st[8:], True
        yield "magic", b"CLVs" + st[4:], True
        for cut in range(0, len(st)):
            if cut < 40 or cut % 7 == 0 or cut > len(st) - 24:
                yield "truncate %d" % cut, with_crc(st[:cut]), True
        for off in range(HEADER, len(st)):
            for width, values in ((4, SWEEP_32), (8, SWEEP_64)):
                if off + width > len(st):
                    continue
                for order, v in values:
                    m = put(st, off, v, width, order)
                    if m != st:
                        yield ("%d-byte %s0x%x at %d" % (width, order, v, off - HEADER),
                               with_crc(m), True)
            for b in SWEEP_BYTES:
                if st[off] != b:
                    yield ("byte 0x%02x at %d" % (b, off - HEADER),
                           with_crc(st[:off] + bytes([b]) + st[off + 1:]), True)

    def next(self, name):
        """A mutant of seed name: (description, bytes, crc recomputed)."""
        gen = self.systematic.get(name)
        if gen is not None and self.rng.random() < 0.5:
            try:
                return next(gen)
            except StopIteration:
                self.systematic[name] = None
        return self.random(name)

    def random(self, name):
        rng = self.rng
        fam, st = self.seeds[name]
        ops = []
        m = bytearray(st)
        for _ in range(rng.choice((1, 1, 1, 2, 3))):
            op = rng.randrange(9)
            pay = max(len(m) - HEADER, 0)
            if op == 0 and len(m) > 0:
                cut = rng.randrange(len(m))
                ops.append("truncate %d" % cut)
                del m[cut:]
            elif op == 1:
                extra = rng.choice((bytes(rng.randrange(1, 17)),
                                    bytes(rng.randrange(256) for _ in range(rng.randrange(1, 33))),
                                    bytes(m[HEADER:HEADER + rng.randrange(1, 64)])))
                at = rng.randrange(HEADER, len(m) + 1) if len(m) >= HEADER else len(m)
                ops.append("insert %d at %d" % (len(extra), at - HEADER))
                m[at:at] = extra
            elif op == 2 and pay:
                for _ in range(rng.randrange(1, 4)):
                    off = HEADER + rng.randrange(pay)
                    bit = rng.randrange(8)
                    m[off] ^= 1 << bit
                    ops.append("flip bit %d at %d" % (bit, off - HEADER))
            elif op == 3 and pay:
                off = HEADER + rng.randrange(pay)
                m[off] = rng.choice(INTERESTING_BYTES + [rng.randrange(256)])
                ops.append("byte 0x%02x at %d" % (m[off], off - HEADER))
            elif op == 4 and pay >= 4:
                off = HEADER + rng.randrange(pay - 3)
                v = rng.choice(INTERESTING_32 + [rng.randrange(1 << 32)])
                order = rng.choice("<>")
                m[off:off + 4] = struct.pack(order + "I", v)
                ops.append("4-byte %s0x%x at %d" % (order, v, off - HEADER))
            elif op == 5 and pay >= 8:
                off = HEADER + rng.randrange(pay - 7)
                v = rng.choice(INTERESTING_64 + [rng.randrange(1 << 64)])
                order = rng.choice("<>")
                m[off:off + 8] = struct.pack(order + "Q", v)
                ops.append("8-byte %s0x%x at %d" % (order, v, off - HEADER))
            elif op == 6:
                # splice: this payload's prefix, another seed's payload suffix
                other = self.seeds[rng.choice(self.names)][1]
                a = rng.randrange(HEADER, len(m) + 1) if len(m) >= HEADER else len(m)
                b = rng.randrange(HEADER, len(other) + 1)
                ops.append("splice at %d with %d" % (a - HEADER, b - HEADER))
                m[a:] = other[b:]
            elif op == 7 and len(m) >= HEADER:
                # another family's payload under this header, or the reverse
                ofam, other = self.seeds[rng.choice(self.names)]
                if rng.random() < 0.5:
                    m[HEADER:] = other[HEADER:]
                    ops.append("payload of family %d" % ofam)
                else:
                    m[6] = ofam
                    ops.append("family=%d" % ofam)
            elif op == 8 and pay >= 2:
                # a block of the payload duplicated or deleted
                off = HEADER + rng.randrange(pay)
                n = rng.randrange(1, min(32, len(m) - off) + 1)
                if rng.random() < 0.5:
                    m[off:off] = m[off:off + n]
                    ops.append("duplicate %d at %d" % (n, off - HEADER))
                else:
                    del m[off:off + n]
                    ops.append("delete %d at %d" % (n, off - HEADER))
        m = bytes(m)
        if not ops or m == st:
            return self.random(name)
        if (len(m) >= HEADER and m[HEADER:] != st[HEADER:] and m[:8] == st[:8]
                and rng.random() < 0.1):
            # the checksum left as it was: the mutant must be rejected
            return "; ".join(ops) + "; old checksum", m[:8] + st[8:12] + m[HEADER:], False
        return "; ".join(ops), with_crc(m), True


# ---- running batches ---------------------------------------------------------

def psql(script, timeout):
    """Run a script with errors not stopping it; (returncode, stdout, stderr)."""
    cmd = [_pg._psql_path(), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=0", "-f", "-"]
    try:
        proc = subprocess.run(cmd, input=script, capture_output=True, text=True,
                              env=_pg._env(), cwd=ROOT, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        return None, exc.stdout or "", exc.stderr or ""
    return proc.returncode, proc.stdout, proc.stderr


def copy_file(state):
    """A COPY BINARY file of one row holding the state."""
    return (b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
            + struct.pack(">hi", 1, len(state)) + state + struct.pack(">h", -1))


def server_log():
    path = os.environ.get("CLV_PGLOG")
    if not path:
        tmp = os.environ.get("CLV_TMPDIR") or os.path.join(os.environ.get("TMPDIR", "/tmp"),
                                                           "clv-test")
        path = os.path.join(tmp, "server.log")
    return path


CRASH_MARKS = ("terminated by signal", "was terminated by exception",
               "terminating any other active server processes", "all server processes terminated")


def log_size(path):
    try:
        return os.path.getsize(path)
    except OSError:
        return None


def log_crashes(path, since):
    if since is None:
        return []
    try:
        with open(path, "rb") as f:
            f.seek(since)
            text = f.read().decode("utf-8", "replace")
    except OSError:
        return []
    return [line for line in text.splitlines() if any(m in line for m in CRASH_MARKS)]


def postmaster_start():
    try:
        return _pg.value("SELECT pg_postmaster_start_time()")
    except (RuntimeError, OSError, _pg.SetupError):
        return None


def wait_for_server(seconds=60):
    end = time.time() + seconds
    while time.time() < end:
        if postmaster_start() is not None:
            return True
        time.sleep(0.5)
    return False


def parse_outcomes(text):
    return dict(part.split("=", 1) for part in text.split())


def main():
    tap = _pg.Tap()
    started = time.time()
    budget = float(os.environ.get("CLV_FUZZ_SECONDS", "60"))
    seed = int(os.environ.get("CLV_FUZZ_SEED") or random.SystemRandom().randrange(1 << 31))
    print("# clv_state fuzzer: seed %d (CLV_FUZZ_SEED=%d reruns it), %gs" % (seed, seed, budget))
    rng = random.Random(seed)
    os.chdir(ROOT)                      # the setup reads test/data/ as the regression tests do
    _pg.connect_or_exit("fuzz_states")

    # the final functions' FINALFUNC_MODIFY, as the extension declares them
    for fn, mod in _pg.rows("SELECT DISTINCT aggfinalfn::text, aggfinalmodify FROM pg_aggregate "
                            "WHERE aggtranstype = 'clv_state'::regtype"):
        _MODIFY[fn] = {"r": "READ_ONLY", "s": "SHAREABLE"}.get(mod, "READ_WRITE")
    try:
        _pg.run(SETUP_SQL + seed_sql())
        states = _pg.rows("SELECT name, g, v FROM clv_fuzz.states ORDER BY name, g")
    except (RuntimeError, OSError) as exc:
        tap.error("fuzz_states: build the seed states", exc)
        tap.done()
        return 1

    family_of = {s[0]: s[1] for s in SEEDS}
    seeds = {}
    bad_crc = []
    for name, g, text in states:
        raw = base64.b64decode(text)
        key = name if g == "-1" else "%s#%s" % (name, g)
        seeds[key] = (family_of[name], raw)
        if raw[:4] != MAGIC or raw[6] != family_of[name] or with_crc(raw) != raw:
            bad_crc.append(key)
    tap.ok(not bad_crc and len(seeds) >= len(SEEDS),
           "fuzz_states: %d seed states from the server, %d families, CRC-32C agrees"
           % (len(seeds), len({s[1] for s in SEEDS})), "checksum or header differs: %s" % bad_crc)
    base_of = {key: key.split("#")[0] for key in seeds}

    # the binary receive path reads COPY files the server can open
    scratch = tempfile.mkdtemp(prefix="fuzz-states-", dir=os.path.dirname(server_log())
                               if os.path.isdir(os.path.dirname(server_log())) else None)
    os.chmod(scratch, 0o755)
    probe = os.path.join(scratch, "probe.bin")
    with open(probe, "wb") as f:
        f.write(copy_file(seeds["linreg"][1]))
    os.chmod(probe, 0o644)
    rc, out, err = psql("COPY clv_fuzz.recv FROM %s (FORMAT binary);\n\\echo END :SQLSTATE\n"
                        % _lit(probe), 60)
    use_recv = "END 00000" in out
    if not use_recv:
        print("# binary receive path skipped: the server cannot read %s (%s)"
              % (probe, (err or out).strip().replace("\n", " ")))

    pm_start = postmaster_start()
    logpath = server_log()
    log_at = log_start = log_size(logpath)
    if log_at is None:
        print("# server log %s not readable: crashes seen through the connection only" % logpath)

    stats = {f: collections.Counter() for f in FAMILY_NAMES}
    tried = collections.Counter()
    failures = {f: [] for f in FAMILY_NAMES}
    mutator = Mutator(rng, seeds)
    keys = sorted(seeds)
    n_batch = 0
    mutant_id = 0

    # every failing mutant, one per line, kept next to the server log
    failed_path = os.path.join(os.path.dirname(logpath), "fuzz-states-failures.txt")
    slow_path = os.path.join(os.path.dirname(logpath), "fuzz-states-slow.txt")

    def fail(fam, why, desc, state):
        failures[fam].append("%s: %s; mutant %s" % (why, desc, state.hex()))
        try:
            with open(failed_path, "a") as f:
                f.write("%d\t%s\t%s\t%s\n" % (fam, why, desc, base64.b64encode(state).decode()))
        except OSError:
            pass

    per_mutant = 0.01                   # seconds, measured as batches run
    while time.time() - started < budget - 1:
        n_batch += 1
        batch = {}
        left = budget - (time.time() - started)
        size = max(10, min(BATCH, int(min(10.0, left) / per_mutant)))
        t0 = time.time()
        lines = ["SET statement_timeout = '%s';" % STATEMENT_TIMEOUT,
                 "SET client_min_messages = error;",
                 "TRUNCATE clv_fuzz.recv;"]
        for j in range(size):
            key = keys[mutant_id % len(keys)]
            desc, state, crc_ok = mutator.next(key)
            mutant_id += 1
            fam = seeds[key][0]
            # another family's seed, for the foreign final and transition paths
            hdr_fam = state[6] if len(state) > 6 else 0
            other = rng.choice([s[0] for s in SEEDS if s[1] not in (fam, hdr_fam)])
            recv = "NULL"
            if use_recv and rng.random() < 0.25:
                path = os.path.join(scratch, "m%d.bin" % mutant_id)
                with open(path, "wb") as f:
                    f.write(copy_file(state))
                os.chmod(path, 0o644)
                recv = _lit(path)
            batch[mutant_id] = (key, fam, desc, state, crc_ok, other)
            lines.append("SELECT clv_fuzz.try(%d, %s, %s, %s, %s);"
                         % (mutant_id, _lit(base_of[key]), _lit(other),
                            _lit(base64.b64encode(state).decode()), recv))
            lines.append("\\echo END %d :SQLSTATE" % mutant_id)
        remaining = max(budget - (time.time() - started), 5)
        rc, out, err = psql("\n".join(lines) + "\n", remaining + 60)

        per_mutant = max(0.001, (time.time() - t0) / size)
        done = set()
        for line in out.splitlines():
            if line.startswith("END "):
                _, mid, code = line.split()
                mid = int(mid)
                done.add(mid)
                if code != "00000":
                    key, fam, desc, state, crc_ok, other = batch[mid]
                    tried[fam] += 1
                    stats[fam]["statement " + code] += 1
                    fail(fam, "hang" if code == "57014" else "statement error %s" % code,
                         desc, state)
                continue
            parts = line.split(" ", 1)
            if len(parts) != 2 or not parts[0].isdigit() or int(parts[0]) not in batch:
                continue
            mid = int(parts[0])
            key, fam, desc, state, crc_ok, other = batch[mid]
            tried[fam] += 1
            outcomes = parse_outcomes(parts[1])
            for path, code in outcomes.items():
                stats[fam]["%s %s" % (path, code)] += 1
            codes = set(outcomes.values())
            hdr_fam = state[6] if len(state) > 6 else 0
            other_fam = family_of[other]
            if "XX000" in codes:
                fail(fam, "internal error", desc, state)
            for path in ("in", "recv", "xfinal", "xinit"):
                if outcomes.get(path) == "57014":
                    fail(fam, "hang: %s ran past statement_timeout" % path, desc, state)
            slow = [p for p in ("final", "after", "before", "init", "cinit")
                    if outcomes.get(p) == "57014"]
            if slow:
                # a fit on the decoded rows ran past the timeout and was
                # cancelled: the fit's speed on such rows, not the decoder
                text = base64.b64encode(state).decode()
                print("# slow fit (cancelled by statement_timeout in %s): family %d, %s; state %s%s"
                      % (", ".join(slow), fam, desc, text[:100], "... (all in %s)" % slow_path
                         if len(text) > 100 else ""))
                try:
                    with open(slow_path, "a") as f:
                        f.write("%d\t%s\t%s\t%s\n" % (fam, ",".join(slow), desc, text))
                except OSError:
                    pass
            if not crc_ok and outcomes.get("in") == "ok":
                fail(fam, "accepted without a valid checksum", desc, state)
            if "recv" in outcomes and outcomes["recv"] != outcomes["in"]:
                fail(fam, "binary receive gave %s, text input %s" % (outcomes["recv"], outcomes["in"]),
                     desc, state)
            if outcomes.get("xfinal") == "ok" or outcomes.get("xinit") == "ok":
                fail(fam, "a state of family %d accepted by a function of family %d"
                     % (hdr_fam, other_fam), desc, state)
            if hdr_fam != LINREG_FAMILY and "ok" in (outcomes.get("fitstats"), outcomes.get("mse")):
                fail(fam, "a state of family %d accepted by clv_linreg_fit_stats or clv_linreg_mse"
                     % hdr_fam, desc, state)
            if hdr_fam != fam and "ok" in (outcomes.get("final"), outcomes.get("after"),
                                           outcomes.get("init"), outcomes.get("cinit")):
                fail(fam, "a state of family %d accepted by a function of family %d"
                     % (hdr_fam, fam), desc, state)

        missing = sorted(set(batch) - done)
        crashes = log_crashes(logpath, log_at)
        now_start = postmaster_start() if rc is not None else None
        if missing or rc is None or crashes or now_start != pm_start:
            # the first mutant without its END line is the one the server died on
            culprit = missing[0] if missing else None
            why = ("hang (psql did not finish)" if rc is None else
                   "server crash" + (": " + crashes[0].strip() if crashes else ""))
            if culprit is not None:
                key, fam, desc, state, crc_ok, other = batch[culprit]
                tried[fam] += 1
                stats[fam]["crash"] += 1
                fail(fam, why, desc, state)
            else:
                failures[1].append("%s after batch %d (psql status %s): %s"
                                   % (why, n_batch, rc, err.strip()[-500:]))
            if not wait_for_server():
                tap.ok(False, "fuzz_states: the server came back after a crash")
                break
            pm_start = postmaster_start()
            log_at = log_size(logpath)

    for fam in sorted(FAMILY_NAMES):
        hist = ", ".join("%s: %d" % kv for kv in sorted(stats[fam].items()))
        desc = "fuzz_states: family %d (%s): %d mutants [%s]" % (
            fam, FAMILY_NAMES[fam], tried[fam], hist)
        if failures[fam]:
            shown = failures[fam][:MAX_REPORTED]
            tap.ok(False, desc, "%d failing mutants (all in %s): %s%s" % (
                len(failures[fam]), failed_path,
                " | ".join(shown),
                " | ..." if len(failures[fam]) > MAX_REPORTED else ""))
        else:
            tap.ok(tried[fam] > 0, desc, "no mutant tried")
    tap.ok(log_crashes(logpath, log_start) == [] and
           postmaster_start() == pm_start,
           "fuzz_states: server up, same postmaster, no backend killed by a signal (%d batches, %.0fs)"
           % (n_batch, time.time() - started))
    for name in os.listdir(scratch):
        os.unlink(os.path.join(scratch, name))
    os.rmdir(scratch)
    try:
        if not os.environ.get("CLV_FUZZ_KEEP"):      # kept for a rerun by hand
            _pg.run("DROP SCHEMA IF EXISTS clv_fuzz CASCADE;\n")
    except (RuntimeError, OSError) as exc:
        print("# could not drop schema clv_fuzz: %s" % exc)
    tap.done()
    return 1 if tap.failed else 0


if __name__ == "__main__":
    sys.exit(main())
