-- Stage data.police.uk outcomes rows (the later outcome of each crime, published in the month it
-- happened): the shared columns and reasons come from stg_police_uk_imports.sql and
-- stg_police_uk_located.sql (put before this text by the loader); checks in this order: month, outcome
-- type, Crime ID, coordinates.

renamed as (
    select
        * exclude ("Outcome type"),
        clean_text("Outcome type")                                  as outcome_type
    from located_checked
),

checked as (
    select
        *,
        coalesce(month_reject_reason,
                 case when outcome_type is null then 'Outcome type is empty'
                      when crime_id is null then 'Crime ID is empty (an outcome must name its crime)' end,
                 coordinates_reject_reason) as reject_reason
    from renamed
),

final as (
    select
        crime_id, month, reported_by, falls_within, longitude, latitude, location,
        lsoa_code, lsoa_name, district, outcome_type, force_id,
        file_index, row_position, reject_reason
    from checked
)

select * from final
