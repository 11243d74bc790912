-- marts.utilization_daily: used against available GPU-hours per day, site and chip family (Open XDMoD's
-- utilization = hours consumed / hours available; OpenCost's idle = available - used).
-- Used: the site-level series of marts.capacity_demand_daily (usage charges with a site and a known chip).
-- Available: the site's pool (marts.capacity_supply_daily). Days: the demand history's span; a site and family
-- with cards but no usage shows 0 used, one with usage but no plan shows NULL available and utilization.
-- idle_gpu_hours is negative and utilization above 1 when usage exceeds the pool.
WITH span AS (SELECT min(usage_date) AS first_day, max(usage_date) AS last_day FROM marts_capacity_demand_daily),
used AS (
    SELECT usage_date, site_id, chip_family, gpu_hours, pflop_hours
    FROM marts_capacity_demand_daily
    WHERE level = 'site'
),
supply AS (
    SELECT s.*
    FROM marts_capacity_supply_daily s, span
    WHERE s.site_id <> 'all' AND s.supply_date BETWEEN span.first_day AND span.last_day
)
SELECT
    coalesce(u.usage_date, s.supply_date) AS usage_date,
    coalesce(u.site_id, s.site_id) AS site_id,
    coalesce(u.chip_family, s.chip_family) AS chip_family,
    coalesce(u.gpu_hours, 0) AS used_gpu_hours,
    s.available_gpu_hours,
    round(s.available_gpu_hours - coalesce(u.gpu_hours, 0), 6) AS idle_gpu_hours,
    round(coalesce(u.gpu_hours, 0) / nullif(s.available_gpu_hours, 0), 6) AS utilization,
    coalesce(u.pflop_hours, 0) AS used_pflop_hours,
    s.available_pflop_hours,
    s.cards,
    s.pool_cards
FROM used u
FULL JOIN supply s ON u.usage_date = s.supply_date AND u.site_id = s.site_id AND u.chip_family = s.chip_family
ORDER BY usage_date, site_id, chip_family
