-- Stage DfT STATS19 vehicle rows: cast and decode; the collision keys, force and collision_reject_reason
-- come from stg_stats19_collision_members.sql (put before this text by the loader).

typed as (
    select
        row_ordinal,
        collision_index,
        collision_year,
        vehicle_reference_text,
        vehicle_reference,
        force_id,
        in_scope,
        collision_reject_reason,
        vehicle_type                                         as vehicle_type_text,
        try_cast(vehicle_type as integer)                    as vehicle_type_code,
        try_cast(sex_of_driver as integer)                   as sex_code,
        case when try_cast(age_of_driver as integer) >= 0 then try_cast(age_of_driver as integer) end as age_of_driver
    from members
),

decoded as (
    select
        typed.*,
        (select label from codes where variable = 'vehicle_type' and code = typed.vehicle_type_code) as vehicle_type,
        (select label from codes where variable = 'sex_of_driver' and code = typed.sex_code) as sex_of_driver
    from typed
),

checked as (
    select
        decoded.*,
        coalesce(collision_reject_reason, case
            when vehicle_reference is null
                then 'vehicle_reference ''' || coalesce(vehicle_reference_text, '') || ''' is not a whole number'
            when vehicle_type_code is null
                then 'vehicle_type ''' || coalesce(vehicle_type_text, '') || ''' is not a DfT vehicle type code'
        end) as reject_reason
    from decoded
),

final as (
    select
        collision_index, collision_year, vehicle_reference, vehicle_type_code, vehicle_type,
        sex_of_driver, age_of_driver, force_id, row_ordinal, reject_reason, in_scope
    from checked
)

select * from final
