/* Running catalog-operation Jobs from a reconciler, level-based: fm_op_run_job looks at the Job
 * of that name and, when there is none, creates it — for file-backed catalogs only after taking
 * the catalog's write lock, a coordination Lease "<catalog>-write-lock" whose holder is the Job's
 * name (DuckDB and SQLite files take one writer; the lock makes Jobs, backups and pool drains
 * queue instead of failing on the file lock). The lock is released when its Job is seen finished,
 * and taken over when its holder Job is gone or finished (an operator restart loses nothing).
 * The result of a finished Job is its termination message: the worker's JSON report, or
 * {"error": {...}}; with FallbackToLogsOnError a crash leaves log lines, wrapped as an error. */
#ifndef FM_OP_JOBS_H
#define FM_OP_JOBS_H
#include <stdbool.h>

#include "k8s/k8s_jobs.h"
#include "operator/operator.h"

typedef enum { FM_JOB_WAITING, FM_JOB_RUNNING, FM_JOB_SUCCEEDED, FM_JOB_FAILED } fm_job_state;

/* why (may be NULL) gets a sentence for conditions; *report (when finished) a new reference;
 * *finished_at the Unix time the Job finished (0 when unknown). */
fm_job_state fm_op_run_job(fm_operator *op, const fm_job_params *p, bool write_lock, json_t **report,
                           long long *finished_at, char *why, size_t nwhy);
/* deletes the Job and its Pods (background propagation); 0 also when already gone */
int fm_op_delete_job(fm_operator *op, const char *ns, const char *name);
/* After a failed Job: the ms to wait before looking again. Once retry_ms have passed since the
 * Job finished it is deleted (a fresh one runs on the next pass, after 2 s); until then, the rest
 * of the delay. A failure is retried at that pace, never in a tight loop. */
long fm_op_retry_failed_job(fm_operator *op, const char *ns, const char *name, long long finished_at, long retry_ms);
/* the error message of a failed Job's report, or a fallback; borrowed from report */
const char *fm_op_report_error(json_t *report, const char **code);
#endif
