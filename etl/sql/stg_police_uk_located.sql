-- What street-level crime and outcomes rows share: renamed and cast once, the district derived, and the
-- reasons a row's month or coordinates cannot be loaded (month_reject_reason, coordinates_reject_reason).
-- Follows stg_police_uk_imports.sql; the model's own columns pass through under their published names.

located as (
    select
        source.* exclude ("Crime ID", "Month", "Reported by", "Falls within", "Longitude", "Latitude",
                          "Location", "LSOA code", "LSOA name"),
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
        files.force_id,
        files.file_month,
        files.month_source
    from source
    inner join files on files.file_index = source.file_index
),

located_checked as (
    select
        *,
        nullif(regexp_replace(lsoa_name, '\s+\d{3}[A-Z]$', ''), '') as district,  -- "Basildon 001A" -> "Basildon"
        case
            when month is null
                then 'Month ''' || coalesce(month_text, '') || ''' is not a month in the form YYYY-MM'
            when file_month is not null and month <> file_month
                then 'Month ' || strftime(month, '%Y-%m') || ' disagrees with the file''s month '
                     || strftime(file_month, '%Y-%m') || ' (' || month_source || ')'
            else outside_date_window('Month ' || strftime(month, '%Y-%m'), month)
        end                                                         as month_reject_reason,
        coordinates_reject_reason(longitude, latitude)              as coordinates_reject_reason
    from located
),
