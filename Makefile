# clv — PGXS build.  `make && make install`, then `make installcheck`.
EXTENSION  = clv
MODULE_big = clv

CORE_SRCS = $(wildcard src/core/*.c)
GLUE_SRCS = $(wildcard src/*.c)
OBJS      = $(GLUE_SRCS:.c=.o) $(CORE_SRCS:.c=.o)

DATA = sql/clv--0.1.0.sql
DOC_FILES = $(wildcard doc/*.md)
ifneq ($(DOC_FILES),)
DOCS = $(DOC_FILES)
endif

REGRESS = summary model linreg logreg predict metrics parallel btyd paretonbd lifetime_value
REGRESS_OPTS = --inputdir=. --outputdir=$(or $(CLV_REGRESS_OUT),.)

GSL_CFLAGS := $(shell gsl-config --cflags)
GSL_LIBS   := $(shell gsl-config --libs)
PG_CPPFLAGS = -Isrc/core $(GSL_CFLAGS)
PG_CFLAGS   = -std=gnu11 -ffp-contract=off
SHLIB_LINK  = $(GSL_LIBS)

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# PGXS does not track headers: a changed struct must rebuild every object.
$(OBJS): $(wildcard src/*.h src/core/*.h)

# ---- tests of the numerical core, without a server -------------------------
UNIT_CFLAGS = -std=gnu11 -ffp-contract=off -O1 -g -Wall -Wextra -Werror -Isrc/core $(GSL_CFLAGS)

test/unit/test_core: $(CORE_SRCS) test/unit/test_core.c $(wildcard src/core/*.h)
	$(CC) $(UNIT_CFLAGS) -o $@ test/unit/test_core.c $(CORE_SRCS) $(GSL_LIBS) -lm

test/unit/test_core_san: $(CORE_SRCS) test/unit/test_core.c $(wildcard src/core/*.h)
	$(CC) $(UNIT_CFLAGS) -fsanitize=address,undefined -fno-sanitize-recover=all \
		-fno-omit-frame-pointer -o $@ test/unit/test_core.c $(CORE_SRCS) $(GSL_LIBS) -lm

test/fuzz/fuzz_model: $(CORE_SRCS) test/fuzz/fuzz_model.c $(wildcard src/core/*.h)
	clang -std=gnu11 -ffp-contract=off -g -O1 -fsanitize=fuzzer,address,undefined -Isrc/core $(GSL_CFLAGS) \
		-o $@ test/fuzz/fuzz_model.c $(CORE_SRCS) $(GSL_LIBS) -lm

.PHONY: unit unit-san fuzz
unit: test/unit/test_core
	test/unit/test_core
unit-san: test/unit/test_core_san
	test/unit/test_core_san
fuzz: test/fuzz/fuzz_model
	test/fuzz/fuzz_model -max_total_time=$(or $(FUZZ_SECONDS),30) -max_len=4096 \
		test/fuzz/corpus

EXTRA_CLEAN = test/unit/test_core test/unit/test_core_san test/fuzz/fuzz_model results regression.diffs regression.out
