-- Planner statistics on queue and state together. Without them the planner multiplies the
-- two columns' frequencies, as if dead jobs were spread evenly over the queues; a pile of
-- dead jobs in one queue (the usual incident) would be estimated at a fraction of its size.
-- The monitor shows a dead-letter pile past its count cap as this estimate ("~45k").
CREATE STATISTICS jobtop.jobs_queue_state (mcv) ON queue, state FROM jobtop.jobs;
