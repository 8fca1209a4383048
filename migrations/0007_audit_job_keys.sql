-- The ids of jobs whose queue keys them by uuid or text (pg-boss, home-grown tables): the
-- audit lists them here, and bigint ids stay in job_ids.
ALTER TABLE jobtop.audit ADD COLUMN job_keys text[];
