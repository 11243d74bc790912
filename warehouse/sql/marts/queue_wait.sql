-- marts.queue_wait: queue wait (submit -> start, as Open XDMoD defines it) of the jobs whose source carries a
-- submit time. Grain: submit_date (Asia/Shanghai) x site_id (NULL when the source names none) x provider_id.
-- A job is provider_id x job_id: submitted at its earliest job_submit_time, started at its earliest
-- charge_period_start. Jobs recorded as starting before they were submitted are counted, not averaged.
WITH jobs AS (
    SELECT
        provider_id,
        job_id,
        any_value(site_id) AS site_id,
        min(job_submit_time) AS submitted_at,
        min(charge_period_start) AS started_at
    FROM core_compute_usage
    WHERE charge_category = 'Usage' AND job_submit_time IS NOT NULL AND job_id IS NOT NULL
    GROUP BY provider_id, job_id
),
waits AS (
    SELECT
        CAST(timezone('Asia/Shanghai', submitted_at) AS DATE) AS submit_date,
        site_id,
        provider_id,
        epoch(started_at - submitted_at) / 3600 AS wait_hours
    FROM jobs
)
SELECT
    submit_date,
    site_id,
    provider_id,
    count(*) AS jobs,
    count(*) FILTER (WHERE wait_hours < 0) AS jobs_started_before_submit,
    round(avg(wait_hours) FILTER (WHERE wait_hours >= 0), 6) AS mean_wait_hours,
    round(quantile_cont(wait_hours, 0.5) FILTER (WHERE wait_hours >= 0), 6) AS p50_wait_hours,
    round(quantile_cont(wait_hours, 0.9) FILTER (WHERE wait_hours >= 0), 6) AS p90_wait_hours,
    round(max(wait_hours), 6) AS max_wait_hours
FROM waits
GROUP BY submit_date, site_id, provider_id
ORDER BY submit_date, site_id, provider_id
