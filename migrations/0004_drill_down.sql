-- Drill-down: the succeeded and cancelled jobs of one queue, newest first, page by page.
-- jobs_finished_idx orders every finished job by time, so paging through one small queue's
-- history would walk past every other queue's; this one is a range per (queue, state).
-- Completing a job is never a HOT update (state and finished_at are indexed), so this adds
-- one index insertion to an update that already pays for several.
CREATE INDEX jobs_done_queue_idx ON jobtop.jobs (queue, state, finished_at)
    WHERE state IN ('succeeded', 'cancelled');
