-- The reference schema (migrations/, schema jobtop) as a worker using it leaves it: queues,
-- registered workers, jobs in every state. The test database is migrated already; this only
-- adds rows. Times are relative to now(), so the fixture describes "a moment ago" whenever
-- it is loaded. Ids are the identity's, 1 to 18 in the order below.

-- "mailers" was paused by an operator; "reports" has no jobs at all.
INSERT INTO jobtop.queues (name, paused_at, paused_by, pause_reason) VALUES
  ('default', NULL, NULL, NULL),
  ('mailers', now() - interval '5 minutes', 'alice@ops', 'smtp outage'),
  ('reports', NULL, NULL, NULL);

-- w-live beats; w-gone stopped beating 10 minutes ago. A third holder, w-ghost, never
-- registered (a worker that neither registers nor sends heartbeats).
INSERT INTO jobtop.workers (id, hostname, pid, queues, started_at, last_heartbeat_at, version) VALUES
  ('w-live', 'app-1', 101, '{default,mailers}', now() - interval '1 hour', now() - interval '5 seconds', '1.0'),
  ('w-gone', 'app-2', 202, '{default}', now() - interval '2 hours', now() - interval '10 minutes', '1.0');

-- default: 2 queued and due (oldest 8 min) and 1 retrying due (ready), 2 queued for later
-- (scheduled), 1 retrying later, 3 running (on w-live, fresh; on w-gone, stale; on w-ghost,
-- no heartbeat at all), 2 dead (one this hour after 5 attempts, one 3 days ago), 3
-- succeeded (two 5 minutes ago, one 2 hours ago), 1 cancelled.
INSERT INTO jobtop.jobs (queue, kind, tenant_id, state, attempts, max_attempts, run_at, started_at,
                         finished_at, locked_by, heartbeat_at, last_error, errors, failed_at) VALUES
  -- 1, 2: ready
  ('default', 'email.send', 't-acme', 'queued', 0, 5, now() - interval '8 minutes', NULL, NULL, NULL, NULL, NULL, '[]', NULL),
  ('default', 'email.send', 't-acme', 'queued', 0, 5, now() - interval '2 minutes', NULL, NULL, NULL, NULL, NULL, '[]', NULL),
  -- 3: ready again after a failed attempt
  ('default', 'email.send', 't-zeta', 'retrying', 1, 5, now() - interval '1 minute', NULL, NULL, NULL, NULL, 'smtp 421',
     jsonb_build_array(jsonb_build_object('at', now() - interval '3 minutes', 'attempt', 1, 'error', 'smtp 421', 'worker', 'w-live')),
     now() - interval '3 minutes'),
  -- 4, 5: scheduled
  ('default', 'report.build', 't-acme', 'queued', 0, 5, now() + interval '1 hour', NULL, NULL, NULL, NULL, NULL, '[]', NULL),
  ('default', 'report.build', 't-acme', 'queued', 0, 5, now() + interval '2 hours', NULL, NULL, NULL, NULL, NULL, '[]', NULL),
  -- 6: retrying, due in 5 minutes, after two failures
  ('default', 'sync.push', 't-zeta', 'retrying', 2, 5, now() + interval '5 minutes', NULL, NULL, NULL, NULL, 'timeout',
     jsonb_build_array(
       jsonb_build_object('at', now() - interval '20 minutes', 'attempt', 1, 'error', 'timeout', 'worker', 'w-live'),
       jsonb_build_object('at', now() - interval '4 minutes', 'attempt', 2, 'error', 'timeout', 'worker', 'w-gone')),
     now() - interval '4 minutes'),
  -- 7: running on w-live, heartbeat fresh
  ('default', 'email.send', 't-acme', 'running', 1, 5, now() - interval '40 seconds', now() - interval '30 seconds', NULL,
     'w-live', now() - interval '5 seconds', NULL, '[]', NULL),
  -- 8: running on w-gone for 12 minutes, last heartbeat 10 minutes ago
  ('default', 'sync.push', 't-zeta', 'running', 1, 5, now() - interval '13 minutes', now() - interval '12 minutes', NULL,
     'w-gone', now() - interval '10 minutes', NULL, '[]', NULL),
  -- 9: running on w-ghost for 10 minutes, never a heartbeat
  ('default', 'report.build', NULL, 'running', 1, 5, now() - interval '11 minutes', now() - interval '10 minutes', NULL,
     'w-ghost', NULL, NULL, '[]', NULL),
  -- 10: dead this hour, five attempts
  ('default', 'sync.push', 't-zeta', 'dead', 5, 5, now() - interval '51 minutes', now() - interval '21 minutes',
     now() - interval '20 minutes', NULL, NULL, 'boom: invalid payload',
     jsonb_build_array(
       jsonb_build_object('at', now() - interval '50 minutes', 'attempt', 1, 'error', 'boom: invalid payload', 'worker', 'w-live'),
       jsonb_build_object('at', now() - interval '40 minutes', 'attempt', 2, 'error', 'boom: invalid payload', 'worker', 'w-live'),
       jsonb_build_object('at', now() - interval '30 minutes', 'attempt', 3, 'error', 'boom: invalid payload', 'worker', 'w-gone'),
       jsonb_build_object('at', now() - interval '25 minutes', 'attempt', 4, 'error', 'boom: invalid payload', 'worker', 'w-gone'),
       jsonb_build_object('at', now() - interval '20 minutes', 'attempt', 5, 'error', 'boom: invalid payload', 'worker', 'w-live')),
     now() - interval '20 minutes'),
  -- 11: dead 3 days ago
  ('default', 'sync.push', 't-zeta', 'dead', 1, 1, now() - interval '3 days', now() - interval '3 days',
     now() - interval '3 days', NULL, NULL, 'ancient',
     jsonb_build_array(jsonb_build_object('at', now() - interval '3 days', 'attempt', 1, 'error', 'ancient', 'worker', 'w-gone')),
     now() - interval '3 days'),
  -- 12, 13: succeeded 5 minutes ago; 14: 2 hours ago
  ('default', 'email.send', 't-acme', 'succeeded', 1, 5, now() - interval '6 minutes', now() - interval '6 minutes',
     now() - interval '5 minutes', NULL, NULL, NULL, '[]', NULL),
  ('default', 'email.send', 't-acme', 'succeeded', 1, 5, now() - interval '6 minutes', now() - interval '6 minutes',
     now() - interval '5 minutes', NULL, NULL, NULL, '[]', NULL),
  ('default', 'email.send', 't-acme', 'succeeded', 1, 5, now() - interval '2 hours', now() - interval '2 hours',
     now() - interval '2 hours', NULL, NULL, NULL, '[]', NULL),
  -- 15: cancelled half an hour ago
  ('default', 'report.build', 't-acme', 'cancelled', 0, 5, now() - interval '31 minutes', NULL,
     now() - interval '30 minutes', NULL, NULL, NULL, '[]', NULL);

-- mailers (paused): 2 ready (oldest 3 min), 1 succeeded 15 minutes ago.
INSERT INTO jobtop.jobs (queue, kind, state, attempts, run_at, started_at, finished_at) VALUES
  ('mailers', 'welcome', 'queued', 0, now() - interval '3 minutes', NULL, NULL),
  ('mailers', 'welcome', 'queued', 0, now() - interval '1 minute', NULL, NULL),
  ('mailers', 'welcome', 'succeeded', 1, now() - interval '16 minutes', now() - interval '16 minutes', now() - interval '15 minutes');

ANALYZE jobtop.jobs;
