-- The import CTEs of every data.police.uk staging model; the loader puts this text before the model's own
-- (etl/sources/police_uk.py, staging_sql). raw_police_uk: read_csv output with its file_index and
-- row_position; police_uk_files: one row per file (file_index, file_month, month_text, month_source, force_id).
with

source as (
    select * from raw_police_uk
),

files as (
    select * from police_uk_files
),
