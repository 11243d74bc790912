-- marts.capacity_demand_daily: daily GPU-hours and PFLOP-hours demand per series, with the supply it draws on.
-- A series is site x chip family x provider at three levels: 'provider' (one provider's usage at a site),
-- 'site' (provider_id = 'all': the providers summed) and 'city' (site_id = 'all' as well). Usage charges with
-- a site and a known chip only. Chip family: 'domestic' for domestic chips, 'nvidia' for NVIDIA, else 'other'.
-- Each series runs from its first day with usage to the last complete day (the last day that every provider
-- reporting in the final week of usage has reported), days without usage as 0. Supply is that of the site
-- and chip family (marts.capacity_supply_daily): provider series share their site's pool. Sums are exact
-- (exact_sum: decimals rounded to 6 places) so that a re-run gives identical values whatever the summation order.
WITH usage AS (
    SELECT
        charge_date AS usage_date,
        site_id,
        CASE WHEN is_domestic_chip THEN 'domestic' WHEN chip_vendor = 'NVIDIA' THEN 'nvidia' ELSE 'other' END AS chip_family,
        provider_id,
        exact_sum(gpu_hours) AS gpu_hours,
        exact_sum(pflop_hours) AS pflop_hours
    FROM core_compute_usage
    WHERE charge_category = 'Usage' AND chip_vendor IS NOT NULL AND site_id IS NOT NULL
    GROUP BY ALL
),
reported AS (SELECT provider_id, max(usage_date) AS last_day FROM usage GROUP BY provider_id),
complete AS (
    SELECT min(last_day) AS through FROM reported WHERE last_day > (SELECT max(last_day) FROM reported) - 7
),
levels AS (
    SELECT 'provider' AS level, usage_date, site_id, chip_family, provider_id, gpu_hours, pflop_hours FROM usage
    UNION ALL
    SELECT 'site', usage_date, site_id, chip_family, 'all', exact_sum(gpu_hours), exact_sum(pflop_hours)
    FROM usage GROUP BY ALL
    UNION ALL
    SELECT 'city', usage_date, 'all', chip_family, 'all', exact_sum(gpu_hours), exact_sum(pflop_hours)
    FROM usage GROUP BY ALL
),
series AS (
    SELECT level, site_id, chip_family, provider_id, min(usage_date) AS first_day, any_value(through) AS through
    FROM levels, complete
    WHERE usage_date <= through
    GROUP BY level, site_id, chip_family, provider_id
),
grid AS (
    SELECT
        level, site_id, chip_family, provider_id,
        CAST(unnest(generate_series(CAST(first_day AS TIMESTAMP), CAST(through AS TIMESTAMP), INTERVAL 1 DAY)) AS DATE)
            AS usage_date
    FROM series
)
SELECT
    concat_ws('|', g.site_id, g.chip_family, g.provider_id) AS series_id,
    g.level,
    g.site_id,
    g.chip_family,
    g.provider_id,
    g.usage_date,
    round(coalesce(l.gpu_hours, 0), 6) AS gpu_hours,
    round(coalesce(l.pflop_hours, 0), 6) AS pflop_hours,
    s.available_gpu_hours,
    s.available_pflop_hours,
    s.cards,
    s.pool_cards,
    round(coalesce(l.gpu_hours, 0) / nullif(s.available_gpu_hours, 0), 6) AS utilization
FROM grid g
LEFT JOIN levels l USING (level, site_id, chip_family, provider_id, usage_date)
LEFT JOIN marts_capacity_supply_daily s
    ON s.supply_date = g.usage_date AND s.site_id = g.site_id AND s.chip_family = g.chip_family
ORDER BY series_id, usage_date
