-- Stage data.police.uk outcomes rows (the later outcome of each crime, published in the month it
-- happened). Same inputs and reject rules as street rows.
with

source as (
    select * from raw_police_uk
),

files as (
    select * from police_uk_files
),

renamed as (
    select
        source.file_index,
        source.row_position,
        clean_text(source."Crime ID")                               as crime_id,
        source."Month"                                              as month_text,
        -- the text of the file's month needs no parsing (most rows); other text is parsed for its reason
        case when source."Month" = files.month_text then files.file_month
             else try_strptime(trim(source."Month"), '%Y-%m')::date end as month,
        clean_text(source."Reported by")                            as reported_by,
        clean_text(source."Falls within")                           as falls_within,
        source."Longitude"                                          as longitude,
        source."Latitude"                                           as latitude,
        clean_text(source."Location")                               as location,
        clean_text(source."LSOA code")                              as lsoa_code,
        clean_text(source."LSOA name")                              as lsoa_name,
        clean_text(source."Outcome type")                           as outcome_type,
        files.force_id,
        files.file_month,
        files.month_source
    from source
    inner join files on files.file_index = source.file_index
),

derived as (
    select
        *,
        nullif(regexp_replace(lsoa_name, '\s+\d{3}[A-Z]$', ''), '') as district  -- "Basildon 001A" -> "Basildon"
    from renamed
),

checked as (
    select
        *,
        case
            when month is null
                then 'Month ''' || coalesce(month_text, '') || ''' is not a month in the form YYYY-MM'
            when file_month is not null and month <> file_month
                then 'Month ' || strftime(month, '%Y-%m') || ' disagrees with the file''s month '
                     || strftime(file_month, '%Y-%m') || ' (' || month_source || ')'
            when outside_date_window('Month ' || strftime(month, '%Y-%m'), month) is not null
                then outside_date_window('Month ' || strftime(month, '%Y-%m'), month)
            when outcome_type is null
                then 'Outcome type is empty'
            when crime_id is null
                then 'Crime ID is empty (an outcome must name its crime)'
            when (longitude is null) <> (latitude is null)
                then 'only one of Longitude and Latitude is given'
            when longitude not between -8.75 and 1.85 or latitude not between 49.8 and 60.95
                then 'coordinates (' || longitude || ', ' || latitude || ') are outside the UK'
        end as reject_reason
    from derived
),

final as (
    select
        crime_id, month, reported_by, falls_within, longitude, latitude, location,
        lsoa_code, lsoa_name, district, outcome_type, force_id,
        file_index, row_position, reject_reason
    from checked
)

select * from final
