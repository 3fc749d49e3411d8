-- Stage data.police.uk stop-and-search rows: keep the timestamp, take the month from the local date
-- as published (so a BST time just after midnight stays in its month), cast the three flags.
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
        nullif(trim(source."Type"), '')                                     as type,
        source."Date"                                                       as date_text,
        try_cast(trim(source."Date") as timestamptz)                         as occurred_at,
        try_strptime(substr(trim(source."Date"), 1, 7), '%Y-%m')::date       as month,
        case lower(trim(source."Part of a policing operation"))
            when 'true' then true when 'false' then false end               as part_of_a_policing_operation,
        nullif(trim(source."Policing operation"), '')                       as policing_operation,
        source."Latitude"                                                   as latitude,
        source."Longitude"                                                  as longitude,
        nullif(trim(source."Gender"), '')                                   as gender,
        nullif(trim(source."Age range"), '')                                as age_range,
        nullif(trim(source."Self-defined ethnicity"), '')                   as self_defined_ethnicity,
        nullif(trim(source."Officer-defined ethnicity"), '')                as officer_defined_ethnicity,
        nullif(trim(source."Legislation"), '')                              as legislation,
        nullif(trim(source."Object of search"), '')                         as object_of_search,
        nullif(trim(source."Outcome"), '')                                  as outcome,
        case lower(trim(source."Outcome linked to object of search"))
            when 'true' then true when 'false' then false end               as outcome_linked_to_object_of_search,
        case lower(trim(source."Removal of more than just outer clothing"))
            when 'true' then true when 'false' then false end               as removal_of_more_than_just_outer_clothing,
        files.force_id,
        files.file_month
    from source
    inner join files on files.filename = source.filename
),

checked as (
    select
        *,
        case
            when occurred_at is null
                then 'Date ''' || coalesce(date_text, '') || ''' is not a date-time (YYYY-MM-DDTHH:MM:SS+HH:MM)'
            when file_month is not null and month <> file_month
                then 'Date ' || date_text || ' disagrees with the file''s month '
                     || strftime(file_month, '%Y-%m') || ' (from its name or folder)'
            when type is null
                then 'Type is empty'
            when (longitude is null) <> (latitude is null)
                then 'only one of Longitude and Latitude is given'
            when longitude not between -8.75 and 1.85 or latitude not between 49.8 and 60.95
                then 'coordinates (' || longitude || ', ' || latitude || ') are outside the UK'
        end as reject_reason
    from renamed
),

final as (
    select
        type, occurred_at, month, part_of_a_policing_operation, policing_operation, latitude, longitude,
        gender, age_range, self_defined_ethnicity, officer_defined_ethnicity, legislation,
        object_of_search, outcome, outcome_linked_to_object_of_search,
        removal_of_more_than_just_outer_clothing, force_id,
        filename, row_position, reject_reason
    from checked
)

select * from final
