-- Stage data.police.uk street-level crime and ASB rows: rename, cast once, derive the district,
-- and give every row that cannot be loaded its reason. Reads raw_police_uk (read_csv output with
-- row_position) and police_uk_files (one row per file: filename, file_month, force_id).
with

source as (
    select * from raw_police_uk
),

files as (
    select * from police_uk_files
),

renamed as (
    select
        source.filename,
        source.row_position,
        nullif(trim(source."Crime ID"), '')                         as crime_id,
        source."Month"                                              as month_text,
        try_strptime(trim(source."Month"), '%Y-%m')::date           as month,
        nullif(trim(source."Reported by"), '')                      as reported_by,
        nullif(trim(source."Falls within"), '')                     as falls_within,
        source."Longitude"                                          as longitude,
        source."Latitude"                                           as latitude,
        nullif(trim(source."Location"), '')                         as location,
        nullif(trim(source."LSOA code"), '')                        as lsoa_code,
        nullif(trim(source."LSOA name"), '')                        as lsoa_name,
        nullif(regexp_replace(trim(source."LSOA name"), '\s+\d{3}[A-Z]$', ''), '') as district,
        nullif(trim(source."Crime type"), '')                       as crime_type,
        nullif(trim(source."Last outcome category"), '')            as last_outcome_category,
        nullif(trim(source."Context"), '')                          as context,
        files.force_id,
        files.file_month
    from source
    inner join files on files.filename = source.filename
),

checked as (
    select
        *,
        case
            when month is null
                then 'Month ''' || coalesce(month_text, '') || ''' is not a month in the form YYYY-MM'
            when file_month is not null and month <> file_month
                then 'Month ' || strftime(month, '%Y-%m') || ' disagrees with the file''s month '
                     || strftime(file_month, '%Y-%m') || ' (from its name or folder)'
            when crime_type is null
                then 'Crime type is empty'
            when (longitude is null) <> (latitude is null)
                then 'only one of Longitude and Latitude is given'
            when longitude not between -8.75 and 1.85 or latitude not between 49.8 and 60.95
                then 'coordinates (' || longitude || ', ' || latitude || ') are outside the UK'
        end as reject_reason
    from renamed
),

final as (
    select
        crime_id, month, reported_by, falls_within, longitude, latitude, location,
        lsoa_code, lsoa_name, district, crime_type, last_outcome_category, context, force_id,
        filename, row_position, reject_reason
    from checked
)

select * from final
