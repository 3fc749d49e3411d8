-- Stage data.police.uk street-level crime and ASB rows: the shared columns and reasons come from
-- stg_police_uk_imports.sql and stg_police_uk_located.sql (put before this text by the loader); here the
-- street columns are renamed and every row that cannot be loaded gets its reason, checks in this order:
-- month, crime type, coordinates.

renamed as (
    select
        * exclude ("Crime type", "Last outcome category", "Context"),
        clean_text("Crime type")                                    as crime_type,
        clean_text("Last outcome category")                         as last_outcome_category,
        clean_text("Context")                                       as context
    from located_checked
),

checked as (
    select
        *,
        coalesce(month_reject_reason, case when crime_type is null then 'Crime type is empty' end,
                 coordinates_reject_reason) as reject_reason
    from renamed
),

final as (
    select
        crime_id, month, reported_by, falls_within, longitude, latitude, location,
        lsoa_code, lsoa_name, district, crime_type, last_outcome_category, context, force_id,
        file_index, row_position, reject_reason
    from checked
)

select * from final
