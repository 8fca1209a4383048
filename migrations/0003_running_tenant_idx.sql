-- Running jobs per tenant, for the heartbeat-budget alert (expected heartbeats per minute
-- per tenant): counted index-only, so the cost stays O(running jobs) and the jobs' heap is
-- not read. Partial like every monitoring index: a job enters it on claim and leaves it when
-- it ends, and heartbeats (heartbeat_at is in no index) stay HOT updates.
CREATE INDEX jobs_running_tenant_idx ON jobtop.jobs (tenant_id)
    WHERE state = 'running';
