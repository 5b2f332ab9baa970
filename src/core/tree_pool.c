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
 *   - while workers run, the calling thread waits on a condition variable in
 *     100 ms slices, asks clv_interrupt_pending() each time and, when an
 *     interrupt is pending, raises a stop flag that the tasks check between
 *     nodes; the caller then joins the workers, frees what it malloc'd and
 *     only then calls clv_check_interrupts(), which does not return;
 *   - results never depend on the number of threads: a forest draws each
 *     tree from its own random stream and stores trees in index order, and
 *     boosting splits work by feature or by disjoint row ranges so every sum
 *     is taken in the same order whatever thread takes it.
 *
 * With n_threads = 1 no thread is started: tasks run on the calling thread,
 * which polls clv_interrupt_pending() itself.
 */
#include "tree_internal.h"

#include <signal.h>
#include <stdlib.h>
#include <time.h>

struct tree_pool
{
	uint32_t	n_threads;		/* worker threads; 0 = run on the caller */
	pthread_t  *threads;
	pthread_mutex_t mutex;
	pthread_cond_t work;		/* a new job or shutdown */
	pthread_cond_t idle;		/* a worker finished the job */
	uint64_t	generation;		/* job number */
	uint32_t	finished;		/* workers done with the current job */
	bool		shutdown;
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

static void
run_tasks(tree_pool *pool, uint32_t worker)
{
	for (;;)
	{
		uint32_t	t;

		if (atomic_load_explicit(&pool->stop, memory_order_relaxed))
			break;
		t = atomic_fetch_add(&pool->next_task, 1);
		if (t >= pool->n_tasks)
			break;
		pool->fn(pool->arg, t, worker);
		atomic_fetch_add(&pool->done_tasks, 1);
	}
}

static void *
worker_main(void *argp)
{
	worker_start *ws = argp;
	tree_pool  *pool = ws->pool;
	uint32_t	id = ws->id;
	uint64_t	seen = 0;

	free(ws);
	for (;;)
	{
		pthread_mutex_lock(&pool->mutex);
		while (pool->generation == seen && !pool->shutdown)
			pthread_cond_wait(&pool->work, &pool->mutex);
		if (pool->shutdown)
		{
			pthread_mutex_unlock(&pool->mutex);
			return NULL;
		}
		seen = pool->generation;
		pthread_mutex_unlock(&pool->mutex);

		run_tasks(pool, id);

		pthread_mutex_lock(&pool->mutex);
		if (++pool->finished == pool->n_threads)
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
	pthread_mutex_init(&pool->mutex, NULL);
	pthread_cond_init(&pool->work, NULL);
	pthread_cond_init(&pool->idle, NULL);
	atomic_init(&pool->next_task, 0);
	atomic_init(&pool->done_tasks, 0);
	atomic_init(&pool->stop, false);
	if (n_threads <= 1)
		return pool;
	pool->threads = calloc(n_threads, sizeof(pthread_t));
	if (pool->threads == NULL)
		return pool;

	/* workers inherit this mask: signals stay with the calling thread */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (uint32_t i = 0; i < n_threads; i++)
	{
		worker_start *ws = malloc(sizeof(worker_start));

		if (ws == NULL)
			break;
		*ws = (worker_start) {pool, i};
		if (pthread_create(&pool->threads[i], NULL, worker_main, ws) != 0)
		{
			free(ws);
			break;
		}
		pool->n_threads++;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	/* fewer threads than asked only costs time: results do not depend on it */
	return pool;
}

uint32_t
tree_pool_workers(const tree_pool *pool)
{
	return pool->n_threads ? pool->n_threads : 1;
}

bool
tree_pool_stopping(tree_pool *pool)
{
	if (atomic_load_explicit(&pool->stop, memory_order_relaxed))
		return true;
	/* on the calling thread the check is ours to make */
	if (pool->n_threads == 0 && clv_interrupt_pending())
	{
		atomic_store(&pool->stop, true);
		return true;
	}
	return false;
}

static double
seconds_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void
report(const clv_tree_settings *s, double *last, uint32_t done, uint32_t total,
	   const char *what)
{
	double		now;

	if (s == NULL || s->progress == NULL)
		return;
	now = seconds_now();
	if (now - *last < 1.0)
		return;
	*last = now;
	s->progress(s->progress_arg, done, total, what);
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
	if (pool->last_report == 0)
		pool->last_report = seconds_now();

	if (pool->n_threads == 0)
	{
		for (uint32_t t = 0; t < n_tasks && !tree_pool_stopping(pool); t++)
		{
			fn(arg, t, 0);
			if (progress_total > 1)
				report(settings, &pool->last_report, progress_base + t + 1, progress_total, what);
		}
		return !atomic_load(&pool->stop);
	}

	pthread_mutex_lock(&pool->mutex);
	pool->finished = 0;
	pool->generation++;
	pthread_cond_broadcast(&pool->work);
	while (pool->finished < pool->n_threads)
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
		if (pool->finished == pool->n_threads)
			break;
		if (clv_interrupt_pending())
			atomic_store(&pool->stop, true);
		if (progress_total > 1)
			report(settings, &pool->last_report,
				   progress_base + atomic_load(&pool->done_tasks), progress_total, what);
	}
	pthread_mutex_unlock(&pool->mutex);
	return !atomic_load(&pool->stop);
}

void
tree_pool_finish(tree_pool *pool)
{
	if (pool == NULL)
		return;
	pthread_mutex_lock(&pool->mutex);
	pool->shutdown = true;
	pthread_cond_broadcast(&pool->work);
	pthread_mutex_unlock(&pool->mutex);
	for (uint32_t i = 0; i < pool->n_threads; i++)
		pthread_join(pool->threads[i], NULL);
	free(pool->threads);
	pthread_mutex_destroy(&pool->mutex);
	pthread_cond_destroy(&pool->work);
	pthread_cond_destroy(&pool->idle);
	free(pool);
}
