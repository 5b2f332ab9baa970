/*
 * tree_pool.c — the worker threads of the tree ensembles.
 *
 * Why and how: training a forest or a boosted ensemble on a few hundred
 * thousand rows is seconds of pure arithmetic, which parallelises well, but
 * the host (a PostgreSQL backend) is single-threaded: its allocator, error
 * handling, interrupt processing and signal handlers must only ever run on
 * the calling thread.  So:
 *
 *   - workers run plain C on memory that is either allocated by the calling
 *     thread before they start or malloc'd and freed by the training code
 *     itself; they never call clv_alloc, clv_release, clv_check_interrupts
 *     or the progress callback;
 *   - workers are created with every signal blocked, so signals (cancel,
 *     statement_timeout, termination) are delivered to the calling thread;
 *   - progress is reported on the calling thread only, never while it
 *     holds the pool's mutex and never once the run is stopping; workers
 *     may be running meanwhile, so the callback must not leave by longjmp
 *     (the glue holds interrupts while it reports);
 *   - the calling thread takes tasks too (n_threads counts it), and asks
 *     clv_interrupt_pending() between tasks, between nodes inside a task,
 *     and every 100 ms while it waits for the workers to finish; when an
 *     interrupt is pending it raises a stop flag that the tasks check
 *     between nodes; the caller then joins the workers, frees what it
 *     malloc'd and only then calls clv_check_interrupts(), which does not
 *     return;
 *   - a worker that finishes a job spins briefly before it sleeps: boosting
 *     hands out a dozen short jobs per round, and a wake-up through the
 *     kernel costs more than a short job;
 *   - results never depend on the number of threads: a forest draws each
 *     tree from its own random stream and stores trees in index order, and
 *     boosting splits work by feature or by disjoint row ranges so every sum
 *     is taken in the same order whatever thread takes it.
 *
 * With n_threads = 1 no thread is started: every task runs on the calling
 * thread.
 */
#include "tree_internal.h"

#include <signal.h>
#include <stdlib.h>
#include <time.h>

/* Pause iterations a worker spins for its next job before it sleeps. */
#define SPIN_ITERATIONS 1000

struct tree_pool
{
	uint32_t	n_workers;		/* threads started, besides the caller */
	pthread_t	caller;
	pthread_t  *threads;
	pthread_mutex_t mutex;
	pthread_cond_t work;		/* a new job or shutdown */
	pthread_cond_t idle;		/* a worker finished the job */
	atomic_ulong generation;	/* job number */
	uint32_t	finished;		/* workers done with the current job */
	atomic_bool shutdown;
	tree_task_fn fn;
	void	   *arg;
	uint32_t	n_tasks;
	atomic_uint next_task;
	atomic_uint done_tasks;
	atomic_bool stop;
	double		last_report;	/* when progress was last reported */
};

typedef struct worker_start
{
	tree_pool  *pool;
	uint32_t	id;
} worker_start;

static inline void
cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

static void
report(tree_pool *pool, const clv_tree_settings *s, uint32_t done, uint32_t total,
	   const char *what)
{
	double		now;

	if (s == NULL || s->progress == NULL || total <= 1 ||
		atomic_load_explicit(&pool->stop, memory_order_relaxed))
		return;
	now = tree_seconds_now();
	if (now - pool->last_report < 1.0)
		return;
	pool->last_report = now;
	s->progress(s->progress_arg, done, total, what);
}

bool
tree_pool_stopping(tree_pool *pool)
{
	if (atomic_load_explicit(&pool->stop, memory_order_relaxed))
		return true;
	/* on the calling thread the check is ours to make */
	if (pthread_equal(pthread_self(), pool->caller) && clv_interrupt_pending())
	{
		atomic_store(&pool->stop, true);
		return true;
	}
	return false;
}

/* Take tasks until none is left; the caller also reports progress. */
static void
run_tasks(tree_pool *pool, uint32_t worker, const clv_tree_settings *settings,
		  uint32_t progress_base, uint32_t progress_total, const char *what)
{
	for (;;)
	{
		uint32_t	t;

		if (worker == 0 ? tree_pool_stopping(pool)
			: atomic_load_explicit(&pool->stop, memory_order_relaxed))
			break;
		t = atomic_fetch_add(&pool->next_task, 1);
		if (t >= pool->n_tasks)
			break;
		pool->fn(pool->arg, t, worker);
		t = atomic_fetch_add(&pool->done_tasks, 1) + 1;
		if (worker == 0)
			report(pool, settings, progress_base + t, progress_total, what);
	}
}

static void *
worker_main(void *argp)
{
	worker_start *ws = argp;
	tree_pool  *pool = ws->pool;
	uint32_t	id = ws->id;
	unsigned long seen = 0;

	free(ws);
	for (;;)
	{
		for (int spin = 0; spin < SPIN_ITERATIONS &&
			 atomic_load(&pool->generation) == seen && !atomic_load(&pool->shutdown); spin++)
			cpu_relax();
		pthread_mutex_lock(&pool->mutex);
		while (atomic_load(&pool->generation) == seen && !atomic_load(&pool->shutdown))
			pthread_cond_wait(&pool->work, &pool->mutex);
		pthread_mutex_unlock(&pool->mutex);
		if (atomic_load(&pool->shutdown))
			return NULL;
		seen = atomic_load(&pool->generation);

		run_tasks(pool, id, NULL, 0, 0, NULL);

		pthread_mutex_lock(&pool->mutex);
		if (++pool->finished == pool->n_workers)
			pthread_cond_signal(&pool->idle);
		pthread_mutex_unlock(&pool->mutex);
	}
}

tree_pool *
tree_pool_start(uint32_t n_threads)
{
	tree_pool  *pool = calloc(1, sizeof(tree_pool));
	sigset_t	all,
				old;

	if (pool == NULL)
		return NULL;
	pool->caller = pthread_self();
	pthread_mutex_init(&pool->mutex, NULL);
	pthread_cond_init(&pool->work, NULL);
	pthread_cond_init(&pool->idle, NULL);
	atomic_init(&pool->generation, 0);
	atomic_init(&pool->shutdown, false);
	atomic_init(&pool->next_task, 0);
	atomic_init(&pool->done_tasks, 0);
	atomic_init(&pool->stop, false);
	pool->last_report = tree_seconds_now();
	if (n_threads <= 1)
		return pool;
	pool->threads = calloc(n_threads - 1, sizeof(pthread_t));
	if (pool->threads == NULL)
		return pool;

	/* workers inherit this mask: signals stay with the calling thread */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (uint32_t i = 0; i + 1 < n_threads; i++)
	{
		worker_start *ws = malloc(sizeof(worker_start));

		if (ws == NULL)
			break;
		*ws = (worker_start) {pool, i + 1};
		if (pthread_create(&pool->threads[i], NULL, worker_main, ws) != 0)
		{
			free(ws);
			break;
		}
		pool->n_workers++;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	/* fewer threads than asked only costs time: results do not depend on it */
	return pool;
}

uint32_t
tree_pool_workers(const tree_pool *pool)
{
	return pool->n_workers + 1;
}

bool
tree_pool_run(tree_pool *pool, tree_task_fn fn, void *arg, uint32_t n_tasks,
			  const clv_tree_settings *settings, uint32_t progress_base,
			  uint32_t progress_total, const char *what)
{
	if (atomic_load(&pool->stop))
		return false;
	pool->fn = fn;
	pool->arg = arg;
	pool->n_tasks = n_tasks;
	atomic_store(&pool->next_task, 0);
	atomic_store(&pool->done_tasks, 0);

	if (pool->n_workers > 0)
	{
		pthread_mutex_lock(&pool->mutex);
		pool->finished = 0;
		atomic_fetch_add(&pool->generation, 1);
		pthread_cond_broadcast(&pool->work);
		pthread_mutex_unlock(&pool->mutex);
	}

	run_tasks(pool, 0, settings, progress_base, progress_total, what);

	if (pool->n_workers > 0)
	{
		pthread_mutex_lock(&pool->mutex);
		while (pool->finished < pool->n_workers)
		{
			struct timespec until;

			clock_gettime(CLOCK_REALTIME, &until);
			until.tv_nsec += 100 * 1000 * 1000;
			if (until.tv_nsec >= 1000000000)
			{
				until.tv_sec++;
				until.tv_nsec -= 1000000000;
			}
			pthread_cond_timedwait(&pool->idle, &pool->mutex, &until);
			if (pool->finished < pool->n_workers && !tree_pool_stopping(pool))
			{
				/* a worker that finishes must not wait for the report */
				pthread_mutex_unlock(&pool->mutex);
				report(pool, settings, progress_base + atomic_load(&pool->done_tasks),
					   progress_total, what);
				pthread_mutex_lock(&pool->mutex);
			}
		}
		pthread_mutex_unlock(&pool->mutex);
	}
	return !atomic_load(&pool->stop);
}

void
tree_pool_finish(tree_pool *pool)
{
	if (pool == NULL)
		return;
	pthread_mutex_lock(&pool->mutex);
	atomic_store(&pool->shutdown, true);
	pthread_cond_broadcast(&pool->work);
	pthread_mutex_unlock(&pool->mutex);
	for (uint32_t i = 0; i < pool->n_workers; i++)
		pthread_join(pool->threads[i], NULL);
	free(pool->threads);
	pthread_mutex_destroy(&pool->mutex);
	pthread_cond_destroy(&pool->work);
	pthread_cond_destroy(&pool->idle);
	free(pool);
}
