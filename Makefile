# clv — PGXS build.  `make && make install`, then `make installcheck`.
EXTENSION  = clv
MODULE_big = clv

CORE_SRCS = $(wildcard src/core/*.c)
GLUE_SRCS = $(wildcard src/*.c)
OBJS      = $(GLUE_SRCS:.c=.o) $(CORE_SRCS:.c=.o)

DATA = $(wildcard sql/clv--*.sql)
DOC_FILES = $(wildcard doc/*.md)
ifneq ($(DOC_FILES),)
DOCS = $(DOC_FILES)
endif

REGRESS = summary periods model model_cache upgrade linreg logreg predict metrics parallel btyd paretonbd lifetime_value tracking trees rfm qini kmeans budget state_type fold cv lasso monitor model_params bgbb sbg covariates mlp xgboost_import aggregate_forms
REGRESS_OPTS = --inputdir=. --outputdir=$(or $(CLV_REGRESS_OUT),.)

GSL_CFLAGS := $(shell gsl-config --cflags)
GSL_LIBS   := $(shell gsl-config --libs)
PG_CPPFLAGS = -Isrc/core $(GSL_CFLAGS)
PG_CFLAGS   = -std=gnu11 -ffp-contract=off -fno-semantic-interposition
SHLIB_LINK  = $(GSL_LIBS) -pthread

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# The network's loops run along rows of weights of any length: GCC vectorises them
# with its dynamic cost model only (-O2 has the "very cheap" one).  Elementwise
# vector arithmetic rounds as scalar arithmetic does: the model's bytes do not change.
src/core/mlp.o: override CFLAGS += -fvect-cost-model=dynamic

# PGXS does not track headers: a changed struct must rebuild every object.
$(OBJS): $(wildcard src/*.h src/core/*.h)

# ---- tests of the numerical core, without a server -------------------------
UNIT_CFLAGS = -std=gnu11 -ffp-contract=off -O1 -g -Wall -Wextra -Werror -pthread -Isrc/core $(GSL_CFLAGS)
SAN_CFLAGS  = -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
CORE_DEPS   = $(CORE_SRCS) $(wildcard src/core/*.h)
UNIT_LIBS   = $(GSL_LIBS) -lm

# Every test/unit/test_NAME.c is a unit program, built optimised (the tree
# tests train real ensembles) and again with the sanitizers.
UNIT_TESTS = $(patsubst %.c,%,$(wildcard test/unit/test_*.c))

test/unit/test_%: test/unit/test_%.c test/unit/tap.h $(CORE_DEPS)
	$(CC) $(UNIT_CFLAGS) -O2 -o $@ $< $(CORE_SRCS) $(UNIT_LIBS)

test/unit/test_%_san: test/unit/test_%.c test/unit/tap.h $(CORE_DEPS)
	$(CC) $(UNIT_CFLAGS) $(SAN_CFLAGS) -o $@ $< $(CORE_SRCS) $(UNIT_LIBS)

test/unit/bench_trees: $(CORE_DEPS) test/unit/bench_trees.c
	$(CC) -std=gnu11 -ffp-contract=off -O2 -g -Wall -Wextra -Werror -pthread -Isrc/core $(GSL_CFLAGS) \
		-o $@ test/unit/bench_trees.c $(CORE_SRCS) $(UNIT_LIBS)

test/fuzz/fuzz_model: $(CORE_DEPS) test/fuzz/fuzz_model.c
	clang -std=gnu11 -ffp-contract=off -g -O1 -pthread -fsanitize=fuzzer,address,undefined -Isrc/core $(GSL_CFLAGS) \
		-o $@ test/fuzz/fuzz_model.c $(CORE_SRCS) $(UNIT_LIBS)

.PHONY: unit unit-san fuzz bench-trees
unit: $(UNIT_TESTS) $(CORE_SRCS:.c=.o)
	set -e; for t in $(UNIT_TESTS); do $$t; done
	test/unit/static_data.sh $(CORE_SRCS:.c=.o)
# CLV_TEST_QUICK shrinks the data sets of the slow programs under the sanitizers.
unit-san: $(UNIT_TESTS:=_san)
	set -e; for t in $(UNIT_TESTS:=_san); do CLV_TEST_QUICK=1 $$t; done
fuzz: test/fuzz/fuzz_model
	test/fuzz/fuzz_model -max_total_time=$(or $(FUZZ_SECONDS),30) -max_len=4096 \
		test/fuzz/corpus
bench-trees: test/unit/bench_trees
	test/unit/bench_trees $(BENCH_ARGS)

EXTRA_CLEAN = $(UNIT_TESTS) $(UNIT_TESTS:=_san) test/unit/bench_trees test/fuzz/fuzz_model results regression.diffs regression.out

# ---- release archive -------------------------------------------------------
# `make dist` writes clv-VERSION.zip (into DISTDIR, default the current directory)
# from the committed tree at HEAD, every file under clv-VERSION/: what is not
# committed, build products included, stays out.  VERSION is default_version.
EXTVERSION = $(shell sed -n "s/^default_version *= *'\([^']*\)'.*/\1/p" $(EXTENSION).control)
DISTDIR ?= .

.PHONY: dist
dist:
	git archive --format=zip --prefix=$(EXTENSION)-$(EXTVERSION)/ \
		-o $(DISTDIR)/$(EXTENSION)-$(EXTVERSION).zip HEAD
