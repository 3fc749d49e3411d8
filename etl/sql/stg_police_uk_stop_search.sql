-- Stage data.police.uk stop-and-search rows: keep the timestamp, take the month from the local date
-- as published (so a BST time just after midnight stays in its month), cast the three flags; the local
-- date must lie in the load's date window (macro outside_date_window, etl/plausibility.py). Follows
-- stg_police_uk_imports.sql (put before this text by the loader).

renamed as (
    select
        source.file_index,
        source.row_position,
        clean_text(source."Type")                                           as type,
        source."Date"                                                       as date_text,
        try_cast(trim(source."Date") as timestamptz)                        as occurred_at,
        -- the local date as published; a 4-digit year ('12018-12-15T10:00' is a timestamp, not a date here)
        case when regexp_matches(trim(source."Date"), '^\d{4}-\d{2}-\d{2}([T ]|$)')
             then try_cast(substr(trim(source."Date"), 1, 10) as date) end  as local_date,
        case lower(trim(source."Part of a policing operation"))
            when 'true' then true when 'false' then false end               as part_of_a_policing_operation,
        clean_text(source."Policing operation")                             as policing_operation,
        source."Latitude"                                                   as latitude,
        source."Longitude"                                                  as longitude,
        clean_text(source."Gender")                                         as gender,
        clean_text(source."Age range")                                      as age_range,
        clean_text(source."Self-defined ethnicity")                         as self_defined_ethnicity,
        clean_text(source."Officer-defined ethnicity")                      as officer_defined_ethnicity,
        clean_text(source."Legislation")                                    as legislation,
        clean_text(source."Object of search")                               as object_of_search,
        clean_text(source."Outcome")                                        as outcome,
        case lower(trim(source."Outcome linked to object of search"))
            when 'true' then true when 'false' then false end               as outcome_linked_to_object_of_search,
        case lower(trim(source."Removal of more than just outer clothing"))
            when 'true' then true when 'false' then false end               as removal_of_more_than_just_outer_clothing,
        files.force_id,
        files.file_month,
        files.month_source
    from source
    inner join files on files.file_index = source.file_index
),

dated as (
    select
        *,
        date_trunc('month', local_date)::date as month
    from renamed
),

checked as (
    select
        *,
        case
            when occurred_at is null or local_date is null
                then 'Date ''' || coalesce(date_text, '') || ''' is not a date-time (YYYY-MM-DDTHH:MM:SS+HH:MM)'
            when file_month is not null and month <> file_month
                then 'Date ' || date_text || ' disagrees with the file''s month '
                     || strftime(file_month, '%Y-%m') || ' (' || month_source || ')'
            when outside_date_window('Date ' || date_text, local_date) is not null
                then outside_date_window('Date ' || date_text, local_date)
            when type is null
                then 'Type is empty'
            else coordinates_reject_reason(longitude, latitude)
        end as reject_reason
    from dated
),

final as (
    select
        type, occurred_at, month, part_of_a_policing_operation, policing_operation, latitude, longitude,
        gender, age_range, self_defined_ethnicity, officer_defined_ethnicity, legislation,
        object_of_search, outcome, outcome_linked_to_object_of_search,
        removal_of_more_than_just_outer_clothing, force_id,
        file_index, row_position, reject_reason
    from checked
)

select * from final
