-- Claims take the oldest ready jobs in (run_at, id) order. With only (queue, run_at) indexed,
-- jobs queued together (one run_at) were all read and sorted by id on every claim: 12 ms per
-- claim of 64 out of 20,000 pending, against 0.1 ms with the order in the index. (SQLite needs
-- no change: every index there ends with the rowid, which is `id`.)
DROP INDEX jobs_ready;
CREATE INDEX jobs_ready ON jobs (queue, run_at, id) WHERE status = 'pending';
