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

REGRESS = summary periods model model_cache upgrade linreg logreg predict metrics parallel btyd paretonbd lifetime_value tracking trees rfm qini aggregate_forms
REGRESS_OPTS = --inputdir=. --outputdir=$(or $(CLV_REGRESS_OUT),.)

GSL_CFLAGS := $(shell gsl-config --cflags)
GSL_LIBS   := $(shell gsl-config --libs)
PG_CPPFLAGS = -Isrc/core $(GSL_CFLAGS)
PG_CFLAGS   = -std=gnu11 -ffp-contract=off -fno-semantic-interposition
SHLIB_LINK  = $(GSL_LIBS) -pthread

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# PGXS does not track headers: a changed struct must rebuild every object.
$(OBJS): $(wildcard src/*.h src/core/*.h)

# ---- tests of the numerical core, without a server -------------------------
UNIT_CFLAGS = -std=gnu11 -ffp-contract=off -O1 -g -Wall -Wextra -Werror -pthread -Isrc/core $(GSL_CFLAGS)
SAN_CFLAGS  = -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
CORE_DEPS   = $(CORE_SRCS) $(wildcard src/core/*.h)
UNIT_LIBS   = $(GSL_LIBS) -lm

test/unit/test_core: $(CORE_DEPS) test/unit/test_core.c
	$(CC) $(UNIT_CFLAGS) -o $@ test/unit/test_core.c $(CORE_SRCS) $(UNIT_LIBS)

test/unit/test_core_san: $(CORE_DEPS) test/unit/test_core.c
	$(CC) $(UNIT_CFLAGS) $(SAN_CFLAGS) -o $@ test/unit/test_core.c $(CORE_SRCS) $(UNIT_LIBS)

# the tree tests train real ensembles: optimised, or they take minutes
test/unit/test_trees: $(CORE_DEPS) test/unit/test_trees.c
	$(CC) $(UNIT_CFLAGS) -O2 -o $@ test/unit/test_trees.c $(CORE_SRCS) $(UNIT_LIBS)

test/unit/test_trees_san: $(CORE_DEPS) test/unit/test_trees.c
	$(CC) $(UNIT_CFLAGS) $(SAN_CFLAGS) -o $@ test/unit/test_trees.c $(CORE_SRCS) $(UNIT_LIBS)

test/unit/bench_trees: $(CORE_DEPS) test/unit/bench_trees.c
	$(CC) -std=gnu11 -ffp-contract=off -O2 -g -Wall -Wextra -Werror -pthread -Isrc/core $(GSL_CFLAGS) \
		-o $@ test/unit/bench_trees.c $(CORE_SRCS) $(UNIT_LIBS)

test/fuzz/fuzz_model: $(CORE_DEPS) test/fuzz/fuzz_model.c
	clang -std=gnu11 -ffp-contract=off -g -O1 -pthread -fsanitize=fuzzer,address,undefined -Isrc/core $(GSL_CFLAGS) \
		-o $@ test/fuzz/fuzz_model.c $(CORE_SRCS) $(UNIT_LIBS)

.PHONY: unit unit-san fuzz bench-trees
unit: test/unit/test_core test/unit/test_trees $(CORE_SRCS:.c=.o)
	test/unit/test_core
	test/unit/test_trees
	test/unit/static_data.sh $(CORE_SRCS:.c=.o)
unit-san: test/unit/test_core_san test/unit/test_trees_san
	test/unit/test_core_san
	CLV_TEST_QUICK=1 test/unit/test_trees_san
fuzz: test/fuzz/fuzz_model
	test/fuzz/fuzz_model -max_total_time=$(or $(FUZZ_SECONDS),30) -max_len=4096 \
		test/fuzz/corpus
bench-trees: test/unit/bench_trees
	test/unit/bench_trees $(BENCH_ARGS)

EXTRA_CLEAN = test/unit/test_core test/unit/test_core_san test/unit/test_trees test/unit/test_trees_san test/unit/bench_trees test/fuzz/fuzz_model results regression.diffs regression.out
