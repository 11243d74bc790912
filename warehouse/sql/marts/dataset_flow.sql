-- marts.dataset_flow: where each dataset went, what moving it cost, and how much training used it.
-- Grain: one dataset_id that a transfer moved or a charge line names. Name and licence come from the current
-- catalog version (the latest valid_from across catalog sources). Bytes and sites count completed transfers;
-- transfer cost counts every transfer (failed ones are billed too). Training is usage charges naming the dataset.
-- Every tenant of the platform is a company, so every training use is commercial use: GPU-hours charged while
-- the licence version in force on the charge day forbade commercial use are counted in
-- non_commercial_gpu_hours, and such a dataset is flagged in commercial_use_conflict.
WITH catalog AS (
    SELECT dataset_id,
           arg_max(name, (valid_from, source_name)) AS name,
           arg_max(publisher, (valid_from, source_name)) AS publisher,
           arg_max(license, (valid_from, source_name)) AS license,
           arg_max(license_spdx, (valid_from, source_name)) AS license_spdx,
           arg_max(commercial_use, (valid_from, source_name)) AS commercial_use,
           list_sort(list_distinct(flatten(list(modality_norm)))) AS modalities
    FROM core_dataset_catalog
    GROUP BY dataset_id
),
moved AS (
    SELECT dataset_id, destination_site_id,
           count(*) AS transfers,
           count(*) FILTER (WHERE status <> 'completed') AS failed_transfers,
           coalesce(sum(bytes) FILTER (WHERE status = 'completed'), 0) AS bytes,
           coalesce(sum(cost_cny), 0) AS cost_cny,
           list(DISTINCT tenant_id) FILTER (WHERE tenant_id IS NOT NULL) AS tenants
    FROM core_data_transfers
    WHERE dataset_id IS NOT NULL
    GROUP BY ALL
),
transfers AS (
    SELECT dataset_id,
           sum(transfers) AS transfers,
           sum(failed_transfers) AS failed_transfers,
           sum(bytes) AS bytes_moved,
           map_from_entries(list((coalesce(destination_site_id, '?'), bytes) ORDER BY destination_site_id)
               FILTER (WHERE bytes > 0)) AS bytes_by_site,
           sum(cost_cny) AS transfer_cost_cny,
           list_distinct(flatten(list(tenants))) AS tenants
    FROM moved
    GROUP BY dataset_id
),
-- The licence in force when a charge ran: the catalog version whose validity covers the charge day.
licence_at_use AS (
    SELECT u.charge_line_id, bool_or(NOT c.commercial_use) AS non_commercial
    FROM core_compute_usage u
    JOIN core_dataset_catalog c
        ON c.dataset_id = u.dataset_id AND u.charge_date >= c.valid_from
        AND (c.valid_to IS NULL OR u.charge_date < c.valid_to)
    WHERE u.dataset_id IS NOT NULL AND u.charge_category = 'Usage'
    GROUP BY u.charge_line_id
),
training AS (
    SELECT u.dataset_id,
           count(DISTINCT u.job_id) AS training_jobs,
           count(*) AS charge_lines,
           exact_sum(u.gpu_hours) AS gpu_hours,
           exact_sum(u.pflop_hours) AS pflop_hours,
           sum(u.effective_cost_cny) AS training_cost_cny,
           coalesce(exact_sum(CASE WHEN l.non_commercial THEN u.gpu_hours END), 0) AS non_commercial_gpu_hours,
           list(DISTINCT u.tenant_id) AS tenants,
           list(DISTINCT u.tenant_id) FILTER (WHERE l.non_commercial) AS non_commercial_tenants
    FROM core_compute_usage u
    LEFT JOIN licence_at_use l USING (charge_line_id)
    WHERE u.dataset_id IS NOT NULL AND u.charge_category = 'Usage'
    GROUP BY u.dataset_id
)
SELECT
    d.dataset_id,
    c.dataset_id IS NOT NULL AS in_catalog,
    c.name,
    c.publisher,
    c.modalities,
    c.license,
    c.license_spdx,
    c.commercial_use,
    coalesce(t.transfers, 0) AS transfers,
    coalesce(t.failed_transfers, 0) AS failed_transfers,
    coalesce(t.bytes_moved, 0) AS bytes_moved,
    t.bytes_by_site,
    coalesce(t.transfer_cost_cny, 0) AS transfer_cost_cny,
    coalesce(g.training_jobs, 0) AS training_jobs,
    coalesce(g.charge_lines, 0) AS charge_lines,
    coalesce(g.gpu_hours, 0) AS gpu_hours,
    coalesce(g.pflop_hours, 0) AS pflop_hours,
    coalesce(g.training_cost_cny, 0) AS training_cost_cny,
    list_sort(list_distinct(list_concat(coalesce(t.tenants, []), coalesce(g.tenants, [])))) AS tenants,
    len(list_distinct(list_concat(coalesce(t.tenants, []), coalesce(g.tenants, [])))) AS tenant_count,
    coalesce(g.non_commercial_gpu_hours, 0) AS non_commercial_gpu_hours,
    list_sort(coalesce(g.non_commercial_tenants, [])) AS non_commercial_tenants,
    coalesce(g.non_commercial_gpu_hours, 0) > 0 AS commercial_use_conflict
FROM (SELECT dataset_id FROM transfers UNION SELECT dataset_id FROM training) d
LEFT JOIN catalog c USING (dataset_id)
LEFT JOIN transfers t USING (dataset_id)
LEFT JOIN training g USING (dataset_id)
ORDER BY d.dataset_id
